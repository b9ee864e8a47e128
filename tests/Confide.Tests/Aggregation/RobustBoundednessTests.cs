using Confide.Aggregation;
using CsCheck;

namespace Confide.Tests.Aggregation;

/// <summary>
/// Yin et al.'s robustness in its simplest form: with f arbitrary outliers (f &lt; n/2 for the median, f ≤ trim for
/// the trimmed mean), every coordinate of the result lies within the range of the honest values at that coordinate.
/// </summary>
public sealed class RobustBoundednessTests
{
    [Fact]
    public void MedianStaysWithinTheHonestRange()
    {
        Gen.Select(Gen.Int[1, 25], Gen.Int[1, 50], Gen.ULong, Gen.Float[-3e38f, 3e38f]).Sample((n, d, seed, outlier) =>
        {
            int f = (n - 1) / 2; // the most outliers a median tolerates
            AssertBounded(new CoordinateMedian(), n, f, d, seed, outlier);
        }, iter: 150);
    }

    [Fact]
    public void TrimmedMeanStaysWithinTheHonestRangeWhenTrimCoversTheOutliers()
    {
        Gen.Select(Gen.Int[1, 25], Gen.Int[1, 50], Gen.ULong, Gen.Float[-3e38f, 3e38f]).Sample((n, d, seed, outlier) =>
        {
            var aggregator = new TrimmedMean(0.3);
            AssertBounded(aggregator, n, aggregator.TrimCount(n), d, seed, outlier);
        }, iter: 150);
    }

    [Fact]
    public void FedAvgIsNotBounded()
    {
        // The same check fails for the mean with one outlier: the property above is not vacuous.
        var updates = StatTestData.Updates(5, 4, 1);
        updates[0] = [1e6f, 1e6f, 1e6f, 1e6f];
        var result = new FedAvg().Aggregate(StatTestData.Memories(updates), StatTestData.Ones(5));
        Assert.True(result.Aggregate[0] > 10, "the mean follows the outlier");
    }

    private static void AssertBounded(IAggregator aggregator, int n, int f, int d, ulong seed, float outlier)
    {
        var updates = StatTestData.Updates(n, d, seed);
        Confide.Randomness.IRandomSource random = new Confide.Randomness.SeededRandomSource(seed ^ 1);
        // The first f updates are outliers: a mix of the generated extreme value, its negation and huge random values.
        for (int i = 0; i < f; i++)
        {
            for (int j = 0; j < d; j++)
            {
                updates[i][j] = random.NextInt32(3) switch
                {
                    0 => outlier,
                    1 => -outlier,
                    _ => (float)((random.NextDouble() - 0.5) * 6e38),
                };
            }
        }

        var result = aggregator.Aggregate(StatTestData.Memories(updates), StatTestData.Ones(n));
        for (int j = 0; j < d; j++)
        {
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            for (int i = f; i < n; i++)
            {
                lo = Math.Min(lo, updates[i][j]);
                hi = Math.Max(hi, updates[i][j]);
            }

            Assert.InRange(result.Aggregate[j], lo, hi);
        }
    }
}
