using Confide.Randomness;

namespace Confide.Tests.Aggregation;

/// <summary>Seeded inputs for the aggregation tests.</summary>
internal static class StatTestData
{
    /// <summary>
    /// n updates of length d with values from a seeded source. With <paramref name="ties"/>, values are small integers,
    /// so that many coordinates hold equal values.
    /// </summary>
    public static float[][] Updates(int n, int d, ulong seed, bool ties = false)
    {
        IRandomSource random = new SeededRandomSource(seed);
        var updates = new float[n][];
        for (int i = 0; i < n; i++)
        {
            updates[i] = new float[d];
            for (int j = 0; j < d; j++)
            {
                updates[i][j] = ties ? random.NextInt32(5) - 2 : (float)((random.NextDouble() * 20) - 10);
            }
        }

        return updates;
    }

    /// <summary>Positive weights in [1, 100].</summary>
    public static double[] Weights(int n, ulong seed)
    {
        IRandomSource random = new SeededRandomSource(seed ^ 0xABCDEF);
        var weights = new double[n];
        for (int i = 0; i < n; i++)
        {
            weights[i] = 1 + random.NextInt32(100);
        }

        return weights;
    }

    /// <summary>The reference weighted mean: per coordinate Σ wᵢ·xᵢ in double, in input order, divided by Σ wᵢ.</summary>
    public static float[] WeightedMeanReference(float[][] updates, double[] weights)
    {
        double total = weights.Sum();
        var mean = new float[updates[0].Length];
        for (int j = 0; j < mean.Length; j++)
        {
            double sum = 0;
            for (int i = 0; i < updates.Length; i++)
            {
                sum += weights[i] * updates[i][j];
            }

            mean[j] = (float)(sum / total);
        }

        return mean;
    }

    public static double[] Ones(int n) => Enumerable.Repeat(1.0, n).ToArray();

    public static ReadOnlyMemory<float>[] Memories(float[][] updates) => updates.Select(u => (ReadOnlyMemory<float>)u).ToArray();

    /// <summary>A seeded permutation of 0..n-1 (Fisher–Yates).</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        IRandomSource random = new SeededRandomSource(seed ^ 0x5EED);
        var p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }

        return p;
    }

    /// <summary>The reference: per coordinate, sort the column and average sorted positions [trim, n − trim), in double.</summary>
    public static float[] NaiveMeanOfMiddle(float[][] updates, int trim)
    {
        int n = updates.Length;
        int d = updates[0].Length;
        var result = new float[d];
        var column = new float[n];
        for (int j = 0; j < d; j++)
        {
            for (int i = 0; i < n; i++)
            {
                column[i] = updates[i][j];
            }

            Array.Sort(column);
            double sum = 0;
            for (int i = trim; i < n - trim; i++)
            {
                sum += column[i];
            }

            result[j] = (float)(sum / (n - (2 * trim)));
        }

        return result;
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++)
        {
            double scale = Math.Max(1, Math.Abs(expected[j]));
            Assert.True(
                Math.Abs(expected[j] - actual[j]) <= tolerance * scale,
                $"coordinate {j}: expected {expected[j]}, got {actual[j]} (tolerance {tolerance})");
        }
    }
}
