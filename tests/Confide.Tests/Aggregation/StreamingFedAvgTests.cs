using Confide.Aggregation;

namespace Confide.Tests.Aggregation;

public sealed class StreamingFedAvgTests
{
    private static float[] Stream(float[][] updates, double[] weights, IEnumerable<int> order)
    {
        var fedAvg = new StreamingFedAvg(updates[0].Length);
        foreach (int i in order)
        {
            fedAvg.Add(updates[i], weights[i]);
        }

        return fedAvg.Complete();
    }

    [Fact]
    public void WeightsBySampleCount()
    {
        // (1·[1, 2] + 3·[3, 6]) / 4 = [10/4, 20/4], exactly representable.
        var fedAvg = new StreamingFedAvg(2);
        fedAvg.Add([1, 2], 1);
        fedAvg.Add([3, 6], 3);
        Assert.Equal(2, fedAvg.Count);
        Assert.Equal(4, fedAvg.TotalWeight);
        Assert.Equal([2.5f, 5f], fedAvg.Complete());
    }

    [Fact]
    public void EqualsTheDoubleReferenceAndTheBatchFormToFloatRounding()
    {
        // Not a multiple of the vector width, so the scalar tail runs too.
        const int n = 7, d = 30_011;
        var updates = StatTestData.Updates(n, d, 21);
        var weights = StatTestData.Weights(n, 21);
        var expected = StatTestData.WeightedMeanReference(updates, weights); // exact products: integer weights ≤ 100 times float32

        // Same order, same double sums: bit for bit.
        Assert.Equal(expected, Stream(updates, weights, Enumerable.Range(0, n)));
        StatTestData.AssertClose(new FedAvg().Aggregate(StatTestData.Memories(updates), weights).Aggregate, expected, 1e-5);
    }

    [Fact]
    public void TheOrderOfArrivalChangesAtMostTheLastBitOfAFloat()
    {
        const int n = 20, d = 20_000;
        var updates = StatTestData.Updates(n, d, 5);
        var weights = StatTestData.Weights(n, 5);
        var inOrder = Stream(updates, weights, Enumerable.Range(0, n));
        var shuffled = Stream(updates, weights, StatTestData.Permutation(n, 5));
        for (int j = 0; j < d; j++)
        {
            float a = inOrder[j], b = shuffled[j];
            Assert.True(a == b || MathF.BitIncrement(a) == b || MathF.BitDecrement(a) == b, $"coordinate {j}: {a} and {b}");
        }

        // Integer inputs sum exactly in double, whatever the order.
        var integers = StatTestData.Updates(n, 1000, 9, ties: true);
        Assert.Equal(Stream(integers, weights, Enumerable.Range(0, n)), Stream(integers, weights, StatTestData.Permutation(n, 9)));
    }

    [Fact]
    public void ARefusedUpdateLeavesTheSumAsItWas()
    {
        var fedAvg = new StreamingFedAvg(3);
        fedAvg.Add([1, 2, 3], 2);

        var nan = Assert.Throws<ArgumentException>(() => fedAvg.Add([1, float.NaN, 3], 1));
        Assert.Contains("index 1", nan.Message, StringComparison.Ordinal);
        Assert.Contains("expected 3", Assert.Throws<ArgumentException>(() => fedAvg.Add([1, 2], 1)).Message, StringComparison.Ordinal);
        foreach (double weight in new[] { 0, -1, double.NaN, double.PositiveInfinity, 1e300, StreamingFedAvg.MaxWeight * 2 })
        {
            Assert.Contains("positive number no larger than 2^53", Assert.Throws<ArgumentException>(() => fedAvg.Add([9, 9, 9], weight)).Message, StringComparison.Ordinal);
        }

        Assert.Equal(1, fedAvg.Count);
        Assert.Equal(2, fedAvg.TotalWeight);
        Assert.Equal([1f, 2f, 3f], fedAvg.Complete());
    }

    [Fact]
    public void TheLargestWeightsAndValuesStayFinite()
    {
        var fedAvg = new StreamingFedAvg(2);
        fedAvg.Add([float.MaxValue, -float.MaxValue], StreamingFedAvg.MaxWeight);
        fedAvg.Add([float.MaxValue, 1e-30f], StreamingFedAvg.MaxWeight);
        Assert.Equal([float.MaxValue, -float.MaxValue / 2], fedAvg.Complete());
    }

    [Fact]
    public void CompleteEmptiesTheAccumulatorForTheNextRoundAndClearDiscards()
    {
        var fedAvg = new StreamingFedAvg(2);
        Assert.Throws<InvalidOperationException>(() => fedAvg.Complete());
        fedAvg.Add([4, 4], 1);
        Assert.Equal([4f, 4f], fedAvg.Complete());
        Assert.Equal(0, fedAvg.Count);
        Assert.Throws<InvalidOperationException>(() => fedAvg.Complete());

        fedAvg.Add([100, 100], 5);
        fedAvg.Clear();
        fedAvg.Add([1, -1], 3);
        Assert.Equal([1f, -1f], fedAvg.Complete());
        Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingFedAvg(0));
    }
}
