using Confide.Parameters;
using Confide.Privacy;
using Confide.Randomness;
using CsCheck;

namespace Confide.Tests.Privacy;

public sealed class ClippingAndMechanismTests
{
    [Fact]
    public void ClipBoundsTheNormAndReportsThePreClipNorm()
    {
        Gen.Float[-100f, 100f].Array[1, 200].Sample(values =>
        {
            var v = (float[])values.Clone();
            double before = Math.Sqrt(values.Sum(x => (double)x * x));
            var report = L2Clipping.Clip(v, 1.5);
            double after = Math.Sqrt(v.Sum(x => (double)x * x));
            return Math.Abs(report.PreClipNorm - before) <= 1e-5 * Math.Max(1, before)
                && after <= 1.5
                && (before <= 1.5 ? v.SequenceEqual(values) && !report.Clipped : Math.Abs(after - 1.5) < 1e-5);
        });
    }

    [Fact]
    public void ClipRejectsBadInput()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => L2Clipping.Clip(new float[3], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => L2Clipping.Clip(new float[3], double.NaN));
        Assert.Throws<ArgumentException>(() => L2Clipping.Clip(new[] { 1f, float.NaN }, 1));
    }

    [Fact]
    public void PerLayerClippingBoundsEachTensor()
    {
        var layout = ParameterLayout.Create(("w", new[] { 2, 2 }), ("b", new[] { 2 }));
        var p = new ModelParameters(layout, [3, 4, 0, 0, 0.1f, 0.1f]);
        var report = L2Clipping.ClipPerLayer(p, [1.0, 1.0]);
        Assert.Equal(5.0, report.LayerPreClipNorms[0], 5);
        Assert.Equal(Math.Sqrt(0.02), report.LayerPreClipNorms[1], 5);
        Assert.Equal(Math.Sqrt(25.02), report.PreClipNorm, 4);
        Assert.Equal(Math.Sqrt(2), report.TotalClipNorm, 12);
        Assert.True(L2Clipping.Norm(p.Tensor("w")) <= 1.0);
        Assert.Equal(0.1f, p.Tensor("b")[0]);

        var equal = L2Clipping.ClipPerLayer(new ModelParameters(layout, [3, 4, 0, 0, 3, 4]), 2.0);
        Assert.Equal(2.0, equal.TotalClipNorm, 12);
        Assert.Throws<ArgumentException>(() => L2Clipping.ClipPerLayer(p, [1.0]));
    }

    [Fact]
    public void GaussianNoiseHasTheRequestedMeanAndVariance()
    {
        // n samples of N(0, s²): the sample mean has sd s/√n, the sample variance has sd ≈ s²√(2/n). Bounds at 5 sd.
        const int n = 200_000;
        const double s = 2.5;
        var noise = new GaussianNoise(new SeededRandomSource(11));
        var x = new double[n];
        noise.Fill(x, s);
        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        double kurt = x.Sum(v => Math.Pow(v - mean, 4)) / n / (variance * variance);
        Assert.InRange(mean, -5 * s / Math.Sqrt(n), 5 * s / Math.Sqrt(n));
        Assert.InRange(variance, s * s * (1 - (5 * Math.Sqrt(2.0 / n))), s * s * (1 + (5 * Math.Sqrt(2.0 / n))));
        // Kurtosis 3 for a Gaussian; its sd is √(24/n).
        Assert.InRange(kurt, 3 - (5 * Math.Sqrt(24.0 / n)), 3 + (5 * Math.Sqrt(24.0 / n)));
    }

    [Theory]
    [InlineData(50_000)]   // one thread
    [InlineData(400_001)]  // parallel chunks, odd length
    public void FloatKernelMatchesTheNormalDistribution(int n)
    {
        // Chi-square over 14 bins with edges −3, −2.5, …, 3 (plus both tails); Φ from the library's erfc.
        var x = new float[n];
        new GaussianNoise(new SeededRandomSource(17)).Fill(x, 2.0);
        double[] edges = [.. Enumerable.Range(0, 13).Select(i => -3 + (0.5 * i))];
        var counts = new int[edges.Length + 1];
        double sum = 0, sumSq = 0;
        foreach (float v in x)
        {
            double z = v / 2.0;
            sum += z;
            sumSq += z * z;
            int bin = 0;
            while (bin < edges.Length && z >= edges[bin])
            {
                bin++;
            }

            counts[bin]++;
        }

        static double Phi(double t) => 0.5 * Confide.Privacy.Internal.LogMath.Erfc(-t / Math.Sqrt(2));
        double chi2 = 0;
        for (int b = 0; b <= edges.Length; b++)
        {
            double lo = b == 0 ? 0 : Phi(edges[b - 1]);
            double hi = b == edges.Length ? 1 : Phi(edges[b]);
            double expected = n * (hi - lo);
            chi2 += (counts[b] - expected) * (counts[b] - expected) / expected;
        }

        // 13 degrees of freedom: the 0.999 quantile is 34.53.
        Assert.True(chi2 < 34.53, $"chi-square {chi2}");
        Assert.InRange(sum / n, -5 / Math.Sqrt(n), 5 / Math.Sqrt(n));
        Assert.InRange(sumSq / n, 1 - (5 * Math.Sqrt(2.0 / n)), 1 + (5 * Math.Sqrt(2.0 / n)));
        // The quadrant logic must give x and y independent signs: count sign agreement between the block halves.
        int agree = 0, pairs = 0;
        for (int start = 0; start + 4096 <= n; start += 4096)
        {
            for (int i = 0; i < 2048; i++, pairs++)
            {
                agree += Math.Sign(x[start + i]) == Math.Sign(x[start + 2048 + i]) ? 1 : 0;
            }
        }

        Assert.InRange(agree, (pairs / 2.0) - (5 * Math.Sqrt(pairs / 4.0)), (pairs / 2.0) + (5 * Math.Sqrt(pairs / 4.0)));
    }

    /// <summary>All-zero randomness: every pair lands in the lowest radius bucket, which the kernel must refine.</summary>
    private sealed class ZeroSource : IRandomSource
    {
        public void NextBytes(Span<byte> destination) => destination.Clear();

        public ulong NextUInt64() => 0;

        public IRandomSource Fork(ulong stream) => this;
    }

    [Fact]
    public void FarTailIsRefinedBeyondTheThirtyTwoBitGrid()
    {
        // k₁ = 0 and zero refinement bits give u₁ = 2⁻⁵⁴·2⁻³², radius √(2·86·ln 2) ≈ 10.92σ at angle 0.
        // Without the refinement the radius would stop at √(2·33·ln 2) ≈ 6.76σ.
        var x = new float[64];
        new GaussianNoise(new ZeroSource()).Fill(x, 1.0);
        double expected = Math.Sqrt(-2 * Math.Log(0.5 / 9007199254740992.0 / 4294967296.0));
        Assert.Equal(expected, x[0], 4);
        Assert.Equal(0, x[32], 6);
    }

    [Fact]
    public void ScalarPathForSingleSamplesHasTheRequestedVariance()
    {
        const int n = 100_000;
        IGaussianNoise noise = new GaussianNoise(new SeededRandomSource(12));
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = noise.Sample(0.5);
        }

        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        Assert.InRange(mean, -5 * 0.5 / Math.Sqrt(n), 5 * 0.5 / Math.Sqrt(n));
        Assert.InRange(variance, 0.25 * (1 - (5 * Math.Sqrt(2.0 / n))), 0.25 * (1 + (5 * Math.Sqrt(2.0 / n))));
        Assert.Throws<ArgumentOutOfRangeException>(() => noise.Sample(-1));
    }

    [Fact]
    public void ParallelPathAddsIndependentNoiseAndIsReproducible()
    {
        const int n = 1 << 18; // above the parallel threshold
        var a = new float[n];
        var b = new float[n];
        new GaussianNoise(new SeededRandomSource(5)).AddTo(a, 1.0);
        new GaussianNoise(new SeededRandomSource(5)).AddTo(b, 1.0);
        Assert.Equal(a, b);

        var noise = new GaussianNoise(new SeededRandomSource(5));
        var first = new float[n];
        var second = new float[n];
        noise.AddTo(first, 1.0);
        noise.AddTo(second, 1.0);
        Assert.NotEqual(first, second);
        double variance = first.Sum(v => (double)v * v) / n;
        Assert.InRange(variance, 1 - (5 * Math.Sqrt(2.0 / n)), 1 + (5 * Math.Sqrt(2.0 / n)));
        // Adjacent blocks must not repeat: correlation of the two halves is ~N(0, 1/n).
        double corr = 0;
        for (int i = 0; i < n / 2; i++)
        {
            corr += (double)first[i] * first[i + (n / 2)];
        }

        Assert.InRange(corr / (n / 2), -5 / Math.Sqrt(n / 2), 5 / Math.Sqrt(n / 2));
    }

    [Fact]
    public void GaussianMechanismAddsSigmaTimesC()
    {
        var mech = new GaussianMechanism(1.2, 0.5);
        Assert.Equal(0.6, mech.StandardDeviation, 15);
        const int n = 100_000;
        var sum = new float[n];
        Array.Fill(sum, 3f);
        mech.AddNoise(sum, new GaussianNoise(new SeededRandomSource(2)));
        double mean = sum.Average(v => (double)v);
        double variance = sum.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        Assert.InRange(mean, 3 - (5 * 0.6 / Math.Sqrt(n)), 3 + (5 * 0.6 / Math.Sqrt(n)));
        Assert.InRange(variance, 0.36 * (1 - (5 * Math.Sqrt(2.0 / n))), 0.36 * (1 + (5 * Math.Sqrt(2.0 / n))));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianMechanism(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GaussianMechanism(1, -1));
    }
}
