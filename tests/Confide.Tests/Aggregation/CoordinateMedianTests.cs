using Confide.Aggregation;
using CsCheck;

namespace Confide.Tests.Aggregation;

public sealed class CoordinateMedianTests
{
    [Fact]
    public void OddCountTakesTheMiddleValue()
    {
        // Columns {1, 2, 9} → 2, {5, −1, 0} → 0, {3, 7, 4} → 4.
        var result = new CoordinateMedian().Aggregate(
            [new float[] { 1, 5, 3 }, new float[] { 2, -1, 7 }, new float[] { 9, 0, 4 }], [1, 1, 1]);
        Assert.Equal([2f, 0f, 4f], result.Aggregate);
        Assert.Equal([0, 1, 2], result.Selected);
        Assert.Empty(result.Flagged);
    }

    [Fact]
    public void EvenCountAveragesTheTwoMiddleValues()
    {
        // Columns {4, 1, 3, 2} → (2 + 3)/2, {−8, 0, 10, 6} → (0 + 6)/2.
        var result = new CoordinateMedian().Aggregate(
            [new float[] { 4, -8 }, new float[] { 1, 0 }, new float[] { 3, 10 }, new float[] { 2, 6 }], [1, 1, 1, 1]);
        Assert.Equal([2.5f, 3f], result.Aggregate);
    }

    [Fact]
    public void IgnoresWeights()
    {
        float[][] updates = [[1], [2], [100]];
        var result = new CoordinateMedian().Aggregate(StatTestData.Memories(updates), [1000, 1, 1]);
        Assert.Equal([2f], result.Aggregate);
    }

    [Fact]
    public void MatchesSortingReferenceAcrossSizesAndBlockEdges()
    {
        // n from 1 to 40 and lengths around the block size (a multiple of 16), including ties.
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, 700], Gen.ULong, Gen.Bool).Sample((n, d, seed, ties) =>
        {
            var updates = StatTestData.Updates(n, d, seed, ties);
            var expected = StatTestData.NaiveMeanOfMiddle(updates, (n - 1) / 2);
            var result = new CoordinateMedian().Aggregate(StatTestData.Memories(updates), StatTestData.Ones(n));
            StatTestData.AssertClose(expected, result.Aggregate, 1e-6);
        }, iter: 150);
    }

    [Fact]
    public void LargeInputMatchesReference()
    {
        // Enough coordinates for the parallel path; 50 clients as in the benchmark.
        var updates = StatTestData.Updates(50, 20_011, 3);
        var result = new CoordinateMedian().Aggregate(StatTestData.Memories(updates), StatTestData.Ones(50));
        StatTestData.AssertClose(StatTestData.NaiveMeanOfMiddle(updates, 24), result.Aggregate, 1e-6);
    }

    [Fact]
    public void NaNIsRejectedWithTheUpdateIndex()
    {
        var updates = StatTestData.Updates(5, 40, 1);
        updates[3][17] = float.NaN;
        var ex = Assert.Throws<ArgumentException>(() => new CoordinateMedian().Aggregate(StatTestData.Memories(updates), StatTestData.Ones(5)));
        Assert.Contains("update 3 contains NaN", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InfinityIsAnOutlierWhileAMinorityHoldsIt()
    {
        var result = new CoordinateMedian().Aggregate(
            [new float[] { float.PositiveInfinity }, new float[] { 1 }, new float[] { 2 }], [1, 1, 1]);
        Assert.Equal([2f], result.Aggregate);

        var ex = Assert.Throws<ArgumentException>(() => new CoordinateMedian().Aggregate(
            [new float[] { float.PositiveInfinity }, new float[] { float.PositiveInfinity }, new float[] { 2 }], [1, 1, 1]));
        Assert.Contains("infinite", ex.Message, StringComparison.Ordinal);
    }
}
