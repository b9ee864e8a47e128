using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Confide.Training.Internal;

/// <summary>Small element-wise kernels shared by the models.</summary>
internal static class Kernels
{
    /// <summary>Adds <paramref name="bias"/> to each of the <paramref name="rows"/> rows of <paramref name="matrix"/>.</summary>
    public static unsafe void AddBiasRows(Span<float> matrix, int rows, ReadOnlySpan<float> bias)
    {
        int cols = bias.Length;
        if (cols < 16)
        {
            // Narrow rows (a few channels): a call per row costs more than the additions.
            if (matrix.Length < rows * cols)
            {
                throw new ArgumentException("AddBiasRows: matrix too short.");
            }

            fixed (float* m = matrix, b = bias)
            {
                float* end = m + (rows * cols);
                for (float* r = m; r < end; r += cols)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        r[j] += b[j];
                    }
                }
            }

            return;
        }

        for (int r = 0; r < rows; r++)
        {
            var row = matrix.Slice(r * cols, cols);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>Overwrites <paramref name="sums"/> with the column sums of a rows × sums.Length matrix.</summary>
    public static unsafe void ColumnSums(ReadOnlySpan<float> matrix, int rows, Span<float> sums)
    {
        int cols = sums.Length;
        sums.Clear();
        if (cols < 16)
        {
            if (matrix.Length < rows * cols)
            {
                throw new ArgumentException("ColumnSums: matrix too short.");
            }

            fixed (float* m = matrix, s = sums)
            {
                float* end = m + (rows * cols);
                for (float* r = m; r < end; r += cols)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        s[j] += r[j];
                    }
                }
            }

            return;
        }

        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(sums, matrix.Slice(r * cols, cols), sums);
        }
    }

    /// <summary>x ← max(x, 0).</summary>
    public static void Relu(Span<float> x) => TensorPrimitives.Max(x, 0f, x);

    /// <summary>grad ← grad where activation &gt; 0, else 0 (the ReLU derivative, using the ReLU's output).</summary>
    public static void ReluBackward(ReadOnlySpan<float> activation, Span<float> grad)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<float>.Count <= grad.Length; i += Vector256<float>.Count)
            {
                var mask = Vector256.GreaterThan(Vector256.Create(activation.Slice(i, Vector256<float>.Count)), Vector256<float>.Zero);
                var g = Vector256.Create(grad.Slice(i, Vector256<float>.Count));
                (g & mask).CopyTo(grad.Slice(i, Vector256<float>.Count));
            }
        }

        for (; i < grad.Length; i++)
        {
            if (activation[i] <= 0)
            {
                grad[i] = 0;
            }
        }
    }

    /// <summary>
    /// Softmax cross-entropy over <paramref name="rows"/> rows of logits: returns Σ losses, writes the argmax of each
    /// row to <paramref name="predictions"/> (if not empty) and, if <paramref name="gradient"/> is not empty, writes
    /// scale·(softmax − onehot) there.
    /// </summary>
    public static double SoftmaxCrossEntropy(ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> labels, Span<int> predictions, float scale, Span<float> gradient)
    {
        double total = 0;
        Span<float> e = classes <= 256 ? stackalloc float[classes] : new float[classes];
        for (int r = 0; r < rows; r++)
        {
            var z = logits.Slice(r * classes, classes);
            int arg = TensorPrimitives.IndexOfMax(z);
            float max = z[arg];
            if (!predictions.IsEmpty)
            {
                predictions[r] = arg;
            }

            TensorPrimitives.Subtract(z, max, e);
            TensorPrimitives.Exp(e, e);
            double sum = TensorPrimitives.Sum<float>(e);
            int y = labels[r];
            // log-sum-exp with the max subtracted: loss = log Σ exp(z − max) − (z_y − max) ≥ 0, finite for finite logits.
            total += Math.Log(sum) - (z[y] - max);
            if (!gradient.IsEmpty)
            {
                var g = gradient.Slice(r * classes, classes);
                TensorPrimitives.Multiply(e, (float)(scale / sum), g);
                g[y] -= scale;
            }
        }

        return total;
    }

    /// <summary>
    /// One fused SGD step over the whole vector (PyTorch's order): g = Σ_t gradients[t] + λθ + μ(θ − anchor);
    /// v ← m·v + g; θ ← θ − η·v. <paramref name="anchor"/> may be empty when μ = 0. Large vectors are split across
    /// <paramref name="threads"/> threads by contiguous ranges, so the result does not depend on the thread count.
    /// </summary>
    public static void SgdStep(float[] weights, float[][] gradients, int gradientCount, float[] velocity, float[]? anchor, float lr, float momentum, float decay, float mu, int threads)
    {
        const int minimumPerThread = 1 << 15;
        int n = weights.Length;
        int parts = Math.Max(1, Math.Min(threads, n / minimumPerThread));
        if (parts == 1)
        {
            SgdRange(weights, gradients, gradientCount, velocity, anchor, lr, momentum, decay, mu, 0, n);
            return;
        }

        int per = (n + parts - 1) / parts;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
        {
            int from = p * per;
            SgdRange(weights, gradients, gradientCount, velocity, anchor, lr, momentum, decay, mu, from, Math.Min(n, from + per));
        });
    }

    private static unsafe void SgdRange(float[] weights, float[][] gradients, int gradientCount, float[] velocity, float[]? anchor, float lr, float momentum, float decay, float mu, int from, int to)
    {
        bool prox = anchor is not null && mu != 0;
        int i = from;
        fixed (float* w = weights, v = velocity, g0 = gradients[0])
        {
            if (Vector256.IsHardwareAccelerated)
            {
                var vLr = Vector256.Create(lr);
                var vM = Vector256.Create(momentum);
                var vDecay = Vector256.Create(decay);
                var vMu = Vector256.Create(mu);
                for (; i + 8 <= to; i += 8)
                {
                    var theta = Vector256.Load(w + i);
                    var g = Vector256.Load(g0 + i);
                    for (int t = 1; t < gradientCount; t++)
                    {
                        g += Vector256.Create(gradients[t].AsSpan(i, 8));
                    }

                    g = Vector256.FusedMultiplyAdd(vDecay, theta, g);
                    if (prox)
                    {
                        g = Vector256.FusedMultiplyAdd(vMu, theta - Vector256.Create(anchor.AsSpan(i, 8)), g);
                    }

                    var vel = Vector256.FusedMultiplyAdd(vM, Vector256.Load(v + i), g);
                    Vector256.Store(vel, v + i);
                    Vector256.Store(theta - (vLr * vel), w + i);
                }
            }

            for (; i < to; i++)
            {
                float g = g0[i];
                for (int t = 1; t < gradientCount; t++)
                {
                    g += gradients[t][i];
                }

                g += decay * w[i];
                if (prox)
                {
                    g += mu * (w[i] - anchor![i]);
                }

                v[i] = (momentum * v[i]) + g;
                w[i] -= lr * v[i];
            }
        }
    }
}
