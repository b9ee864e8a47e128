using Confide.Randomness;
using Confide.Training.Partitioning;

namespace Confide.Training.Tests.Partitioning;

public sealed class PartitionerTests
{
    private static readonly int[] Labels = MakeLabels(2000, 10, seed: 1);

    public static TheoryData<string> Specs => new() { "iid", "dirichlet:0.1", "dirichlet:0.5", "dirichlet:100", "shards:2", "shards:3", "quantity:0.5" };

    [Theory]
    [MemberData(nameof(Specs))]
    public void EverySampleIsUsedExactlyOnceAndEveryClientGetsSome(string spec)
    {
        var parts = PartitionerCatalog.Parse(spec).Partition(Labels, 10, 20, new SeededRandomSource(7));
        Assert.Equal(20, parts.Length);
        Assert.All(parts, p => Assert.NotEmpty(p));
        var all = parts.SelectMany(p => p).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, Labels.Length).ToArray(), all);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void DeterministicPerSeed(string spec)
    {
        var p = PartitionerCatalog.Parse(spec);
        var a = p.Partition(Labels, 10, 20, new SeededRandomSource(3));
        var b = p.Partition(Labels, 10, 20, new SeededRandomSource(3));
        var c = p.Partition(Labels, 10, 20, new SeededRandomSource(4));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void DirichletSkewGrowsAsAlphaShrinks()
    {
        // Mean label-entropy deficit (nats) over 5 seeds: IID ≈ sampling noise only; α = 100 close to it; α = 0.1 far above.
        double Deficit(string spec) => Enumerable.Range(0, 5).Average(s =>
            PartitionStatistics.MeanLabelEntropyDeficit(Labels, PartitionerCatalog.Parse(spec).Partition(Labels, 10, 20, new SeededRandomSource((ulong)s)), 10));
        double iid = Deficit("iid");
        double large = Deficit("dirichlet:100");
        double medium = Deficit("dirichlet:0.5");
        double small = Deficit("dirichlet:0.1");
        Assert.True(iid < 0.1, $"iid {iid}");
        Assert.True(large < 0.15, $"α=100 {large}");
        Assert.True(medium > large + 0.2, $"α=0.5 {medium} vs α=100 {large}");
        Assert.True(small > medium + 0.2, $"α=0.1 {small} vs α=0.5 {medium}");
    }

    [Fact]
    public void ShardsGiveEachClientFewLabels()
    {
        var parts = new ShardPartitioner(2).Partition(Labels, 10, 20, new SeededRandomSource(5));
        // 40 shards of 50 over labels of ~200 each: a shard spans at most 2 labels, so a client sees at most 4.
        Assert.All(parts, p => Assert.InRange(p.Select(i => Labels[i]).Distinct().Count(), 1, 4));
        Assert.True(parts.Average(p => p.Select(i => Labels[i]).Distinct().Count()) <= 3);
        Assert.All(parts, p => Assert.Equal(100, p.Length));
    }

    [Fact]
    public void QuantitySkewKeepsLabelsMixedButSizesUnequal()
    {
        var parts = new QuantitySkewPartitioner(0.5).Partition(Labels, 10, 10, new SeededRandomSource(6));
        Assert.True(parts.Max(p => p.Length) > 2 * parts.Min(p => p.Length));
        var iid = new IidPartitioner().Partition(Labels, 10, 10, new SeededRandomSource(6));
        Assert.True(iid.Max(p => p.Length) - iid.Min(p => p.Length) <= 1);
    }

    [Theory]
    [InlineData("dirichlet:-1")]
    [InlineData("dirichlet:abc")]
    [InlineData("shards:0")]
    [InlineData("zipf:2")]
    [InlineData("iid:3")]
    public void BadSpellingsAreRejected(string spec) => Assert.Throws<ArgumentException>(() => PartitionerCatalog.Parse(spec));

    [Fact]
    public void TooManyClientsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new IidPartitioner().Partition(Labels.AsSpan(0, 5), 10, 6, new SeededRandomSource(1)));
        Assert.Throws<ArgumentException>(() => new ShardPartitioner(3).Partition(Labels.AsSpan(0, 10), 10, 4, new SeededRandomSource(1)));
    }

    private static int[] MakeLabels(int n, int classes, ulong seed)
    {
        IRandomSource rng = new SeededRandomSource(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextInt32(classes)).ToArray();
    }
}
