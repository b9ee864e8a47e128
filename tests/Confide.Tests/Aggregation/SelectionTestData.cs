using Confide.Randomness;

namespace Confide.Tests.Aggregation;

/// <summary>Inputs for the Krum, Bulyan, FLTrust and anomaly-detection tests.</summary>
internal static class SelectionTestData
{
    public static ReadOnlyMemory<float>[] Rows(params float[][] rows) => rows.Select(r => (ReadOnlyMemory<float>)r).ToArray();

    /// <summary>n vectors of length d with values uniform in [−scale, scale).</summary>
    public static ReadOnlyMemory<float>[] Uniform(IRandomSource random, int n, int d, double scale = 1.0)
    {
        var rows = new ReadOnlyMemory<float>[n];
        for (int i = 0; i < n; i++)
        {
            var row = new float[d];
            for (int k = 0; k < d; k++)
            {
                row[k] = (float)(((2 * random.NextDouble()) - 1) * scale);
            }

            rows[i] = row;
        }

        return rows;
    }

    /// <summary>A uniformly random permutation of 0..n−1 (Fisher–Yates).</summary>
    public static int[] Permutation(IRandomSource random, int n)
    {
        int[] p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }

        return p;
    }

    /// <summary>permuted[k] = rows[permutation[k]].</summary>
    public static ReadOnlyMemory<float>[] Permute(IReadOnlyList<ReadOnlyMemory<float>> rows, int[] permutation) =>
        permutation.Select(i => rows[i]).ToArray();

    /// <summary>Replaces <paramref name="count"/> rows at random positions by huge outliers (|value| in [1e5, 1e9]); returns their indices.</summary>
    public static int[] InjectOutliers(IRandomSource random, ReadOnlyMemory<float>[] rows, int count)
    {
        int[] victims = Permutation(random, rows.Length)[..count];
        foreach (int i in victims)
        {
            var row = new float[rows[i].Length];
            for (int k = 0; k < row.Length; k++)
            {
                double magnitude = Math.Pow(10, 5 + (4 * random.NextDouble()));
                row[k] = (float)(random.NextDouble() < 0.5 ? -magnitude : magnitude);
            }

            rows[i] = row;
        }

        Array.Sort(victims);
        return victims;
    }

    /// <summary>Per-coordinate minimum and maximum over the rows not in <paramref name="excluded"/>.</summary>
    public static (float[] Min, float[] Max) Range(IReadOnlyList<ReadOnlyMemory<float>> rows, IReadOnlyCollection<int> excluded)
    {
        int d = rows[0].Length;
        var min = Enumerable.Repeat(float.PositiveInfinity, d).ToArray();
        var max = Enumerable.Repeat(float.NegativeInfinity, d).ToArray();
        for (int i = 0; i < rows.Count; i++)
        {
            if (excluded.Contains(i))
            {
                continue;
            }

            ReadOnlySpan<float> row = rows[i].Span;
            for (int k = 0; k < d; k++)
            {
                min[k] = Math.Min(min[k], row[k]);
                max[k] = Math.Max(max[k], row[k]);
            }
        }

        return (min, max);
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int k = 0; k < expected.Length; k++)
        {
            double tolerance = relative * Math.Max(1.0, Math.Abs(expected[k]));
            Assert.True(Math.Abs(expected[k] - actual[k]) <= tolerance, $"coordinate {k}: expected {expected[k]}, got {actual[k]}");
        }
    }
}
