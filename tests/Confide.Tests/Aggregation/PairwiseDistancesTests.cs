using Confide.Aggregation.Internal;
using Confide.Randomness;

namespace Confide.Tests.Aggregation;

public sealed class PairwiseDistancesTests
{
    private static double NaiveSquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int k = 0; k < a.Length; k++)
        {
            double diff = (double)a[k] - b[k];
            sum += diff * diff;
        }

        return sum;
    }

    [Theory]
    [InlineData(1, 5, true)]
    [InlineData(2, 1, true)]
    [InlineData(3, 7, true)]
    [InlineData(5, 64, true)]
    [InlineData(6, 1000, true)]
    [InlineData(9, 5003, true)]
    [InlineData(13, 70_001, true)]
    [InlineData(3, 7, false)]
    [InlineData(6, 1000, false)]
    [InlineData(13, 70_001, false)]
    public void MatchesTheDirectDefinitionForEveryShape(int n, int d, bool allowVector512)
    {
        // Odd n and d exercise the padded rows, the ragged last block and the scalar tails; allowVector512 = false
        // covers the Vector256 kernel on machines that would otherwise take the AVX-512 one.
        var rows = SelectionTestData.Uniform(new SeededRandomSource((ulong)((n * 100_000) + d)), n, d);
        double[] distances = PairwiseDistances.SquaredEuclidean(rows, allowVector512);
        double[] gram = PairwiseDistances.Gram(rows, allowVector512);
        for (int a = 0; a < n; a++)
        {
            for (int b = 0; b < n; b++)
            {
                double expected = NaiveSquaredDistance(rows[a].Span, rows[b].Span);
                Assert.Equal(expected, distances[(a * n) + b], expected * 1e-9);
                double dot = 0;
                for (int k = 0; k < d; k++)
                {
                    dot += (double)rows[a].Span[k] * rows[b].Span[k];
                }

                Assert.Equal(dot, gram[(a * n) + b], 1e-9 * d);
            }
        }
    }

    [Fact]
    public void ParallelResultsAreTheSameOnEveryRun()
    {
        // Partial Gram matrices are summed in a fixed chunk order, so thread scheduling cannot change the last bits.
        var rows = SelectionTestData.Uniform(new SeededRandomSource(77), 12, 300_001);
        double[] first = PairwiseDistances.SquaredEuclidean(rows);
        for (int run = 0; run < 3; run++)
        {
            Assert.Equal(first, PairwiseDistances.SquaredEuclidean(rows));
        }
    }

    [Fact]
    public void NearlyEqualRowsWithALargeCommonOffsetKeepTheirSmallDistance()
    {
        // ‖a‖² + ‖b‖² − 2a·b cancels badly here (‖a‖² ≈ 1e10, ‖a − b‖² ≈ 1e-2); centring each block keeps the answer.
        const int d = 10_000;
        IRandomSource random = new SeededRandomSource(3);
        var a = new float[d];
        var b = new float[d];
        for (int k = 0; k < d; k++)
        {
            a[k] = 1000f + (float)random.NextDouble();
            b[k] = a[k] + (k % 2 == 0 ? 0.001f : -0.001f);
        }

        double[] distances = PairwiseDistances.SquaredEuclidean([a, b, a]);
        double expected = NaiveSquaredDistance(a, b);
        Assert.Equal(expected, distances[1], expected * 1e-6);
        Assert.Equal(0.0, distances[2]);
    }

    [Fact]
    public void CloseRowsNextToAFarOutlierAreRecomputedExactly()
    {
        // The outlier drags each block's mean to about 1e11, so the centred rows a and b have norms² near d·1e22 while
        // ‖a − b‖² is d·1e-6: the Gram formula alone would return rounding noise. The direct recomputation must not.
        const int d = 3000;
        IRandomSource random = new SeededRandomSource(8);
        var a = new float[d];
        var b = new float[d];
        var outlier = new float[d];
        for (int k = 0; k < d; k++)
        {
            a[k] = (float)random.NextDouble();
            b[k] = a[k] + (k % 3 == 0 ? 1e-3f : 0f);
            outlier[k] = 3e11f;
        }

        double[] distances = PairwiseDistances.SquaredEuclidean([a, outlier, b]);
        double expected = NaiveSquaredDistance(a, b);
        Assert.Equal(expected, distances[2], expected * 1e-12);
        Assert.Equal(expected, distances[6], expected * 1e-12);
        Assert.Equal(NaiveSquaredDistance(a, outlier), distances[1], distances[1] * 1e-9);
    }

    [Fact]
    public void HugeFiniteValuesDoNotOverflow()
    {
        float[] a = [3e38f, -3e38f, 1f];
        float[] b = [0f, 0f, 1f];
        double[] distances = PairwiseDistances.SquaredEuclidean([a, b]);
        double expected = 2.0 * a[0] * (double)a[0]; // (±3e38 − 0)² twice, about 1.8e77: far past float's range
        Assert.Equal(expected, distances[1], expected * 1e-12);
    }

    [Fact]
    public void NonFiniteValuesAreRejectedNamingTheRow()
    {
        float[] good = [1f, 2f];
        float[] bad = [1f, float.NaN];
        var ex = Assert.Throws<ArgumentException>(() => PairwiseDistances.SquaredEuclidean([good, good, bad]));
        Assert.Contains("Update 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("non-finite", ex.Message, StringComparison.Ordinal);
    }
}
