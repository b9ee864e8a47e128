using Confide.Aggregation;

namespace Confide.Tests.Aggregation;

public sealed class FedAvgTests
{
    [Fact]
    public void WeightsBySampleCount()
    {
        // (1·[1, 2] + 3·[3, 6]) / 4 = [10/4, 20/4].
        var result = new FedAvg().Aggregate([new float[] { 1, 2 }, new float[] { 3, 6 }], [1, 3]);
        StatTestData.AssertClose([2.5f, 5f], result.Aggregate, 1e-6);
        Assert.Equal([0, 1], result.Selected);
        Assert.Empty(result.Flagged);
    }

    [Fact]
    public void OnlyRelativeWeightsMatter()
    {
        float[][] updates = [[1, -4, 9], [3, 0, -1], [0, 8, 2]];
        var a = new FedAvg().Aggregate(StatTestData.Memories(updates), [1, 2, 5]);
        var b = new FedAvg().Aggregate(StatTestData.Memories(updates), [100, 200, 500]);
        // Hand-computed: (1·1 + 2·3 + 5·0)/8, (−4 + 0 + 40)/8, (9 − 2 + 10)/8.
        StatTestData.AssertClose([7f / 8, 36f / 8, 17f / 8], a.Aggregate, 1e-6);
        StatTestData.AssertClose(a.Aggregate, b.Aggregate, 1e-6);
    }

    [Fact]
    public void MatchesDoubleReferenceOnLargeInputSpanningManyBlocks()
    {
        // Long enough to run the blocked parallel path, and not a multiple of the block.
        const int n = 7, d = 300_001;
        var updates = StatTestData.Updates(n, d, 11);
        var weights = StatTestData.Weights(n, 11);
        var expected = StatTestData.WeightedMeanReference(updates, weights);

        var result = new FedAvg().Aggregate(StatTestData.Memories(updates), weights);
        // Float32 coefficients and accumulation over 7 terms of magnitude ≤ 10: error well under 1e-5 absolute.
        StatTestData.AssertClose(expected, result.Aggregate, 1e-5);
    }

    [Fact]
    public void NonFiniteInputIsRejectedWithItsIndex()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new FedAvg().Aggregate([new float[] { 1, 2 }, new float[] { 1, float.PositiveInfinity }], [1, 1]));
        Assert.Contains("update 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("index 1", ex.Message, StringComparison.Ordinal);
    }
}
