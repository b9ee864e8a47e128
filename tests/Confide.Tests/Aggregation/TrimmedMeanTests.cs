using Confide.Aggregation;
using CsCheck;

namespace Confide.Tests.Aggregation;

public sealed class TrimmedMeanTests
{
    [Fact]
    public void TrimsFloorOfBetaTimesNPerSide()
    {
        // β = 0.2, n = 5: trim ⌊1.0⌋ = 1 per side. Column {10, −3, 4, 0, 7} → mean of {0, 4, 7} = 11/3.
        float[][] updates = [[10], [-3], [4], [0], [7]];
        var result = new TrimmedMean(0.2).Aggregate(StatTestData.Memories(updates), StatTestData.Ones(5));
        StatTestData.AssertClose([11f / 3], result.Aggregate, 1e-6);
        Assert.Equal([0, 1, 2, 3, 4], result.Selected);
        Assert.Empty(result.Flagged);
    }

    [Fact]
    public void BetaBelowOneOverNTrimsNothing()
    {
        // β = 0.1, n = 5: ⌊0.5⌋ = 0, the plain mean (10 − 3 + 4 + 0 + 7)/5 = 18/5.
        float[][] updates = [[10], [-3], [4], [0], [7]];
        var result = new TrimmedMean(0.1).Aggregate(StatTestData.Memories(updates), StatTestData.Ones(5));
        StatTestData.AssertClose([18f / 5], result.Aggregate, 1e-6);
    }

    [Fact]
    public void TwoColumnsEvenCount()
    {
        // β = 0.25, n = 4: trim 1. Columns {1, 2, 3, 100} → 2.5 and {−5, −1, 0, 6} → −0.5.
        float[][] updates = [[100, 0], [2, -5], [1, 6], [3, -1]];
        var result = new TrimmedMean(0.25).Aggregate(StatTestData.Memories(updates), StatTestData.Ones(4));
        Assert.Equal([2.5f, -0.5f], result.Aggregate);
    }

    [Fact]
    public void TrimCountAbsorbsRoundingOfKOverN()
    {
        // 0.29 × 100 is 28.999999999999996 in double; the documented count is 29.
        Assert.Equal(29, new TrimmedMean(0.29).TrimCount(100));
        Assert.Equal(5, new TrimmedMean(0.1).TrimCount(50));
        Assert.Equal(2, new TrimmedMean(0.1).TrimCount(29));
        Assert.Equal(0, new TrimmedMean(0).TrimCount(7));
    }

    [Fact]
    public void HalfIsTheMedianForOddCountAndAnErrorForEven()
    {
        float[][] odd = [[5], [1], [3]];
        Assert.Equal([3f], new TrimmedMean(0.5).Aggregate(StatTestData.Memories(odd), StatTestData.Ones(3)).Aggregate);

        float[][] even = [[5], [1], [3], [4]];
        var ex = Assert.Throws<ArgumentException>(() => new TrimmedMean(0.5).Aggregate(StatTestData.Memories(even), StatTestData.Ones(4)));
        Assert.Contains("trims 2 per side of 4 updates; needs n > 2·trim = 4", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(0.51)]
    [InlineData(double.NaN)]
    public void BetaOutOfRangeIsRejected(double beta)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new TrimmedMean(beta));
        Assert.Contains("expected 0 ≤ β ≤ 0.5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MatchesSortingReference()
    {
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, 500], Gen.Double[0, 0.5], Gen.ULong).Sample((n, d, beta, seed) =>
        {
            var aggregator = new TrimmedMean(beta);
            int trim = aggregator.TrimCount(n);
            if (n <= 2 * trim)
            {
                return;
            }

            var updates = StatTestData.Updates(n, d, seed, ties: seed % 3 == 0);
            var result = aggregator.Aggregate(StatTestData.Memories(updates), StatTestData.Ones(n));
            StatTestData.AssertClose(StatTestData.NaiveMeanOfMiddle(updates, trim), result.Aggregate, 1e-6);
        }, iter: 150);
    }

    [Fact]
    public void InfinityIsTrimmedOrRejected()
    {
        float[][] updates = [[float.NegativeInfinity], [1], [2], [3], [float.PositiveInfinity]];
        Assert.Equal([2f], new TrimmedMean(0.2).Aggregate(StatTestData.Memories(updates), StatTestData.Ones(5)).Aggregate);
        var ex = Assert.Throws<ArgumentException>(() => new TrimmedMean(0).Aggregate(StatTestData.Memories(updates), StatTestData.Ones(5)));
        Assert.Contains("infinite input survived", ex.Message, StringComparison.Ordinal);
    }
}
