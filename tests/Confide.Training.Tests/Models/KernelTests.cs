using Confide.Randomness;
using Confide.Training.Internal;

namespace Confide.Training.Tests.Models;

public sealed class KernelTests
{
    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(5, 7, 3, false, false)]
    [InlineData(4, 16, 16, false, true)]
    [InlineData(9, 300, 37, false, false)]
    [InlineData(33, 513, 520, false, true)]
    [InlineData(6, 70, 25, true, false)]
    [InlineData(13, 260, 17, true, true)]
    [InlineData(7, 5, 6, false, true)]
    [InlineData(19, 300, 6, false, true)]
    [InlineData(17, 25, 8, false, false)]
    [InlineData(9, 40, 3, true, false)]
    public void GemmMatchesNaiveProduct(int m, int k, int n, bool transposeA, bool transposeB)
    {
        IRandomSource rng = new SeededRandomSource((ulong)(m * 1000 + k * 10 + n));
        var a = RandomArray(m * k, rng);
        var b = RandomArray(k * n, rng);
        var c = RandomArray(m * n, rng);
        var old = (float[])c.Clone();
        foreach (bool accumulate in new[] { false, true })
        {
            old.CopyTo(c, 0);
            Gemm.Multiply(a, transposeA, b, transposeB, c, m, k, n, accumulate);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double expected = accumulate ? old[(i * n) + j] : 0;
                    for (int p = 0; p < k; p++)
                    {
                        float aip = transposeA ? a[(p * m) + i] : a[(i * k) + p];
                        float bpj = transposeB ? b[(j * k) + p] : b[(p * n) + j];
                        expected += aip * (double)bpj;
                    }

                    Assert.True(Math.Abs(expected - c[(i * n) + j]) <= 1e-4 * (1 + Math.Sqrt(k)), $"C[{i},{j}] = {c[(i * n) + j]}, expected {expected}");
                }
            }
        }
    }

    [Theory]
    [InlineData(2, 3, 1)]
    [InlineData(1, 3, 1)]
    [InlineData(1, 3, 0)]
    [InlineData(1, 5, 2)]
    [InlineData(3, 2, 0)]
    public void Im2RowProductIsADirectConvolution(int c, int k, int pad)
    {
        // 2 images of 5×4 pixels (channels last), 3 output channels.
        const int batch = 2, h = 5, w = 4, outC = 3;
        IRandomSource rng = new SeededRandomSource(3);
        var x = RandomArray(batch * h * w * c, rng);
        var weights = RandomArray(outC * c * k * k, rng); // [outC, k, k, c]
        int kk = c * k * k;
        var rows = new float[batch * (h + (2 * pad) - k + 1) * (w + (2 * pad) - k + 1) * kk];
        Conv.Im2Row(x, batch, h, w, c, k, pad, rows);
        var wt = new float[kk * outC];
        Gemm.Transpose(weights, outC, kk, wt);
        int outH = h + (2 * pad) - k + 1, outW = w + (2 * pad) - k + 1;
        var y = new float[batch * outH * outW * outC];
        Gemm.Multiply(rows, false, wt, y, batch * outH * outW, kk, outC, false);
        for (int n = 0; n < batch; n++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++)
                {
                    for (int o = 0; o < outC; o++)
                    {
                        double expected = 0;
                        for (int ch = 0; ch < c; ch++)
                        {
                            for (int ky = 0; ky < k; ky++)
                            {
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy + ky - pad, ix = ox + kx - pad;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                    {
                                        expected += weights[(((((o * k) + ky) * k) + kx) * c) + ch] * (double)x[(((n * h * w) + (iy * w) + ix) * c) + ch];
                                    }
                                }
                            }
                        }

                        Assert.True(Math.Abs(expected - y[(((n * outH * outW) + (oy * outW) + ox) * outC) + o]) < 1e-5, $"pixel ({n},{oy},{ox},{o})");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void Row2ImIsTheAdjointOfIm2Row(int c)
    {
        // ⟨Im2Row(x), r⟩ = ⟨x, Row2Im(r)⟩ for all x, r.
        const int batch = 2, h = 6, w = 5, k = 3, pad = 1;
        IRandomSource rng = new SeededRandomSource(4);
        var x = RandomArray(batch * h * w * c, rng);
        int rowsLength = batch * h * w * c * k * k;
        var r = RandomArray(rowsLength, rng);
        var rows = new float[rowsLength];
        Conv.Im2Row(x, batch, h, w, c, k, pad, rows);
        var back = new float[x.Length];
        Conv.Row2Im(r, batch, h, w, c, k, pad, back);
        double left = 0, right = 0;
        for (int i = 0; i < rowsLength; i++)
        {
            left += rows[i] * (double)r[i];
        }

        for (int i = 0; i < x.Length; i++)
        {
            right += x[i] * (double)back[i];
        }

        Assert.Equal(left, right, 3);
    }

    [Theory]
    [InlineData(37, 1, 1)]
    [InlineData(100_003, 3, 2)]
    public void FusedSgdStepMatchesTheScalarFormula(int n, int gradientCount, int threads)
    {
        IRandomSource rng = new SeededRandomSource(8);
        var w = RandomArray(n, rng);
        var v = RandomArray(n, rng);
        var anchor = RandomArray(n, rng);
        var grads = Enumerable.Range(0, gradientCount).Select(_ => RandomArray(n, rng)).ToArray();
        var expectedW = (float[])w.Clone();
        var expectedV = (float[])v.Clone();
        const float lr = 0.1f, m = 0.9f, decay = 0.01f, mu = 0.5f;
        for (int i = 0; i < n; i++)
        {
            double g = grads.Sum(x => (double)x[i]) + (decay * w[i]) + (mu * (w[i] - anchor[i]));
            expectedV[i] = (float)((m * v[i]) + g);
            expectedW[i] = w[i] - (lr * expectedV[i]);
        }

        Kernels.SgdStep(w, grads, gradientCount, v, anchor, lr, m, decay, mu, threads);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(expectedV[i], v[i], 1e-5f);
            Assert.Equal(expectedW[i], w[i], 1e-5f);
        }
    }

    private static float[] RandomArray(int length, IRandomSource rng)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((2 * rng.NextDouble()) - 1);
        }

        return values;
    }
}
