using Confide.Aggregation;

namespace Confide.Tests.Aggregation;

public sealed class NormBoundTests
{
    [Fact]
    public void ClipsLongUpdatesAndReportsTheirNorms()
    {
        // [3, 4] has norm 5 > 2: scaled to [1.2, 1.6]. [0.6, 0.8] has norm 1: kept. Mean with equal weights: [0.9, 1.2].
        var result = new NormBound(2, new FedAvg()).Aggregate([new float[] { 3, 4 }, new float[] { 0.6f, 0.8f }], [1, 1]);
        StatTestData.AssertClose([0.9f, 1.2f], result.Aggregate, 1e-6);
        var flag = Assert.Single(result.Flagged);
        Assert.Equal(0, flag.Index);
        Assert.Contains("L2 norm 5 above the bound 2", flag.Reason, StringComparison.Ordinal);
        Assert.Equal([0, 1], result.Selected);
        Assert.Equal("norm-bound(fedavg)", new NormBound(2, new FedAvg()).Name);
    }

    [Fact]
    public void FastPathMatchesClippingThenAveraging()
    {
        // The FedAvg fast path folds the clipping into the coefficients; wrapping the same FedAvg in a type the
        // fast path does not recognise runs the generic path on clipped copies.
        var updates = StatTestData.Memories(StatTestData.Updates(6, 1000, 9));
        var weights = StatTestData.Weights(6, 9);
        var fast = new NormBound(100, new FedAvg()).Aggregate(updates, weights);
        var generic = new NormBound(100, new Wrapped(new FedAvg())).Aggregate(updates, weights);
        Assert.NotEmpty(fast.Flagged); // norms are about √1000 · 5.8 ≈ 180
        Assert.Equal(fast.Flagged, generic.Flagged);
        StatTestData.AssertClose(generic.Aggregate, fast.Aggregate, 1e-5);
    }

    [Fact]
    public void ClippedUpdateHasTheBoundAsNorm()
    {
        var result = new NormBound(0.5, new CoordinateMedian()).Aggregate([new float[] { 30, -40, 0 }], [1]);
        double norm = Math.Sqrt(result.Aggregate.Sum(x => (double)x * x));
        Assert.Equal(0.5, norm, 1e-6);
    }

    [Fact]
    public void PassesTheInnerSelectionAndFlagsThrough()
    {
        var inner = new Fixed([1], [new FlaggedInput(0, "inner says no")]);
        var result = new NormBound(1, inner).Aggregate([new float[] { 10 }, new float[] { 0.5f }], [1, 1]);
        Assert.Equal([1], result.Selected);
        Assert.Equal(2, result.Flagged.Count);
        Assert.All(result.Flagged, f => Assert.Equal(0, f.Index));
        Assert.Contains("clipped", result.Flagged[0].Reason, StringComparison.Ordinal);
        Assert.Equal("inner says no", result.Flagged[1].Reason);
        // The inner aggregator saw the clipped update (10 → 1), and the unclipped one unchanged.
        Assert.Equal([1f], inner.LastSeen![0]);
        Assert.Equal([0.5f], inner.LastSeen[1]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    public void BoundMustBePositiveAndFinite(double bound)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new NormBound(bound, new FedAvg()));
        Assert.Contains("expected a positive finite L2 norm bound", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonFiniteInputIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new NormBound(1, new CoordinateMedian()).Aggregate([new float[] { 0 }, new float[] { float.NaN }], [1, 1]));
        Assert.Contains("update 1 has the non-finite value NaN", ex.Message, StringComparison.Ordinal);
    }

    private sealed class Wrapped(IAggregator inner) : IAggregator
    {
        public string Name => inner.Name;

        public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights) =>
            inner.Aggregate(updates, weights);
    }

    private sealed class Fixed(int[] selected, FlaggedInput[] flagged) : IAggregator
    {
        public float[][]? LastSeen { get; private set; }

        public string Name => "fixed";

        public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
        {
            LastSeen = updates.Select(u => u.ToArray()).ToArray();
            return new AggregationResult(updates[selected[0]].ToArray(), selected, flagged);
        }
    }
}
