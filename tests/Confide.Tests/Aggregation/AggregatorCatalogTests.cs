using Confide.Aggregation;

namespace Confide.Tests.Aggregation;

public sealed class AggregatorCatalogTests
{
    private static readonly float[] Server = [1f, -2f, 0.5f];

    private static AggregatorSettings SettingsFor(string method) => method switch
    {
        "multi-krum" => new AggregatorSettings(method, Byzantine: 1, Select: 2),
        "krum" or "bulyan" => new AggregatorSettings(method, Byzantine: 1),
        "fltrust" => new AggregatorSettings(method, ServerUpdate: Server),
        _ => new AggregatorSettings(method),
    };

    public static TheoryData<string> Methods() => [.. AggregatorCatalog.Methods];

    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryMethodBuildsTheAggregatorOfThatName(string method) =>
        Assert.Equal(method, AggregatorCatalog.Create(SettingsFor(method)).Name);

    [Theory]
    [MemberData(nameof(Methods))]
    public void IdenticalInputsGiveThatInput(string method)
    {
        var settings = SettingsFor(method);
        int n = AggregatorCatalog.MinimumClients(settings);
        float[] x = [1f, -2f, 0.5f];
        var updates = Enumerable.Repeat((ReadOnlyMemory<float>)x, n).ToList();
        var result = AggregatorCatalog.Create(settings).Aggregate(updates, [.. Enumerable.Repeat(1.0, n)]);
        Assert.Equal(x.Length, result.Aggregate.Length);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(x[i], result.Aggregate[i], 5);
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void MinimumClientsIsAccepted(string method)
    {
        var settings = SettingsFor(method) with { Byzantine = AggregatorCatalog.UsesByzantine(method) ? 2 : 0 };
        int n = AggregatorCatalog.MinimumClients(settings);
        var updates = Enumerable.Range(0, n).Select(i => (ReadOnlyMemory<float>)new[] { 1f + i, -2f, 0.5f * i }).ToList();
        var aggregator = AggregatorCatalog.Create(settings);
        _ = aggregator.Aggregate(updates, [.. Enumerable.Repeat(1.0, n)]);
        if (n > 1)
        {
            Assert.ThrowsAny<ArgumentException>(() => aggregator.Aggregate(updates[..^1], [.. Enumerable.Repeat(1.0, n - 1)]));
        }
    }

    [Fact]
    public void MinimumClientsFollowsThePapers()
    {
        Assert.Equal(5, AggregatorCatalog.MinimumClients(new AggregatorSettings("krum", Byzantine: 1)));
        Assert.Equal(7, AggregatorCatalog.MinimumClients(new AggregatorSettings("bulyan", Byzantine: 1)));
        Assert.Equal(6, AggregatorCatalog.MinimumClients(new AggregatorSettings("multi-krum", Byzantine: 1, Select: 5)));
        Assert.Equal(1, AggregatorCatalog.MinimumClients(new AggregatorSettings("median")));
    }

    [Fact]
    public void NormBoundWrapsTheMethod()
    {
        var aggregator = AggregatorCatalog.Create(new AggregatorSettings("median", NormBound: 1.0));
        var bound = Assert.IsType<NormBound>(aggregator);
        Assert.Equal("median", bound.Inner.Name);
        Assert.Equal(1.0, bound.MaxNorm);
    }

    [Fact]
    public void TrimRatioReachesTrimmedMean() =>
        Assert.Equal(0.25, Assert.IsType<TrimmedMean>(AggregatorCatalog.Create(new AggregatorSettings("trimmed-mean", TrimRatio: 0.25))).Beta);

    [Fact]
    public void MissingOrMisplacedParametersAreErrors()
    {
        Assert.Contains("multi-krum needs m", Assert.Throws<ArgumentException>(() => AggregatorCatalog.Create(new AggregatorSettings("multi-krum", 1))).Message, StringComparison.Ordinal);
        Assert.Contains("fltrust needs the server's update", Assert.Throws<ArgumentException>(() => AggregatorCatalog.Create(new AggregatorSettings("fltrust"))).Message, StringComparison.Ordinal);
        Assert.Contains("applies only to multi-krum", Assert.Throws<ArgumentException>(() => AggregatorCatalog.Create(new AggregatorSettings("krum", 1, Select: 2))).Message, StringComparison.Ordinal);
        Assert.Contains("applies only to fltrust", Assert.Throws<ArgumentException>(() => AggregatorCatalog.Create(new AggregatorSettings("median", ServerUpdate: Server))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SettingsAreValidatedWhereBuilt()
    {
        Assert.Contains("Unknown aggregation method 'Krum'", Assert.Throws<ArgumentException>(() => new AggregatorSettings("Krum")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorSettings("krum", Byzantine: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorSettings("multi-krum", Select: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorSettings("trimmed-mean", TrimRatio: 0.6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorSettings("trimmed-mean", TrimRatio: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorSettings("median", NormBound: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AggregatorSettings("median") with { Byzantine = -3 });
    }
}
