using Confide.Aggregation;
using Confide.Training.Data;
using Confide.Training.Models;
using Confide.Training.Simulation;

namespace Confide.Training.Tests.Simulation;

public sealed class CatalogTests
{
    [Theory]
    [InlineData("fedavg", "fedavg")]
    [InlineData("median", "median")]
    [InlineData("trimmed-mean:0.2", "trimmed-mean")]
    [InlineData("krum", "krum")]
    [InlineData("multi-krum:3", "multi-krum")]
    [InlineData("bulyan", "bulyan")]
    [InlineData("geometric-median", "geometric-median")]
    [InlineData("norm-bound:2:median", "norm-bound(median)")]
    [InlineData("norm-bound:2", "norm-bound(fedavg)")]
    public void AggregatorSpellingsBuildTheRightType(string spec, string name)
    {
        var factory = AggregatorSpelling.Parse(spec, byzantine: 1);
        Assert.Equal(name, factory.Create(9, null).Name);
        Assert.False(factory.NeedsServerUpdate);
    }

    [Fact]
    public void TrimmedMeanDefaultsToFOverNAndMultiKrumToNMinusF()
    {
        var trimmed = (TrimmedMean)AggregatorSpelling.Parse("trimmed-mean", byzantine: 2).Create(10, null);
        Assert.Equal(0.2, trimmed.Beta);
        var multi = (MultiKrum)AggregatorSpelling.Parse("multi-krum", byzantine: 2).Create(10, null);
        Assert.Equal(8, multi.M);
        Assert.True(AggregatorSpelling.Parse("fltrust", 0).NeedsServerUpdate);
    }

    [Fact]
    public void FlTrustAlphaScalesTheTrustWeightedMean()
    {
        // Server update (1, 0); clients (2, 0) and (0, 5) (cosine 1 and 0): FLTrust gives (1, 0), rescaled to ‖g₀‖ = 1.
        float[] server = [1, 0];
        ReadOnlyMemory<float>[] updates = [new float[] { 2, 0 }, new float[] { 0, 5 }];
        double[] weights = [1, 1];
        var plain = AggregatorSpelling.Parse("fltrust:1", 0).Create(2, server).Aggregate(updates, weights);
        var half = AggregatorSpelling.Parse("fltrust:0.5", 0).Create(2, server).Aggregate(updates, weights);
        var byDefault = AggregatorSpelling.Parse("fltrust", 0).Create(2, server).Aggregate(updates, weights);
        Assert.Equal([1f, 0f], plain.Aggregate);
        Assert.Equal([0.5f, 0f], half.Aggregate);
        Assert.Equal([(float)AggregatorSpelling.DefaultFlTrustAlpha, 0f], byDefault.Aggregate);
        // Trust, selection and flags are FLTrust's own, whatever α.
        Assert.Equal(plain.Scores, half.Scores);
        Assert.Equal(plain.Selected, half.Selected);
        Assert.Equal(plain.Flagged, half.Flagged);
        Assert.Equal("fltrust", AggregatorSpelling.Parse("fltrust:0.5", 0).Create(2, server).Name);
    }

    [Theory]
    [InlineData("fltrust:0")]
    [InlineData("fltrust:-1")]
    [InlineData("fltrust:x")]
    [InlineData("fltrust:NaN")]
    public void BadFlTrustAlphaIsRejected(string spec)
    {
        var ex = Assert.Throws<ArgumentException>(() => AggregatorSpelling.Parse(spec, 0));
        Assert.Contains(spec, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mean")]
    [InlineData("krum:3")]
    [InlineData("trimmed-mean:x")]
    [InlineData("trimmed-mean:0.9")]
    [InlineData("norm-bound")]
    public void BadAggregatorSpellingsAreRejected(string spec) => Assert.ThrowsAny<ArgumentException>(() => AggregatorSpelling.Parse(spec, 1));

    [Fact]
    public void ModelSpellingsBuildTheRightShapes()
    {
        var digits = new ImageShape(1, 8, 8);
        var mlp = Assert.IsType<MultilayerPerceptron>(ModelCatalog.Create("mlp:32,16", digits, 10));
        Assert.Equal([32, 16], mlp.Hidden);
        Assert.Equal([64], Assert.IsType<MultilayerPerceptron>(ModelCatalog.Create("mlp", digits, 10)).Hidden);
        Assert.Equal([200], Assert.IsType<MultilayerPerceptron>(ModelCatalog.Create("mlp", new ImageShape(1, 28, 28), 10)).Hidden);
        Assert.Equal(2, Assert.IsType<ConvNet>(ModelCatalog.Create("cnn", digits, 10)).Options.Padding);
        Assert.Equal(0, Assert.IsType<ConvNet>(ModelCatalog.Create("cnn", new ImageShape(1, 28, 28), 10)).Options.Padding);
        Assert.IsType<SoftmaxRegression>(ModelCatalog.Create("softmax", digits, 10));
        Assert.Throws<ArgumentException>(() => ModelCatalog.Create("softmax:3", digits, 10));
        Assert.Throws<ArgumentException>(() => ModelCatalog.Create("mlp:a", digits, 10));
        Assert.ThrowsAny<ArgumentException>(() => ModelCatalog.Create("mlp:0", digits, 10));
    }
}
