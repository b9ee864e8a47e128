using Confide.Aggregation;
using Confide.Randomness;
using CsCheck;
using static Confide.Tests.Aggregation.SelectionTestData;

namespace Confide.Tests.Aggregation;

/// <summary>Contracts every selection-based aggregator keeps, run over each of them.</summary>
public sealed class SelectionContractTests
{
    public static TheoryData<string> Methods => ["krum", "multi-krum", "bulyan", "fltrust", "cosine+krum"];

    private static IAggregator Create(string method, int f, int d, IRandomSource random) => method switch
    {
        "krum" => new Krum(f),
        "multi-krum" => new MultiKrum(f, 2),
        "bulyan" => new Bulyan(f),
        "fltrust" => new FlTrust(Uniform(random, 1, d)[0], new FlTrustOptions { AllZeroTrustFallback = FlTrustFallback.ZeroUpdate }),
        "cosine+krum" => new AnomalyFilter(new CosineAnomalyDetector(), new Krum(f)),
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryInputIsEitherSelectedOrFlaggedWithAReason(string method)
    {
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 4], Gen.Int[1, 30], Gen.Int[0, int.MaxValue]).Sample((f, extra, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            // Enough inputs for Bulyan's n ≥ 4f + 3 and for the detector's minimum even after it drops some.
            int n = (4 * f) + 4 + extra;
            var rows = Uniform(random, n, d);
            IAggregator aggregator = Create(method, f, d, random);

            AggregationResult result = aggregator.Aggregate(rows, []);

            Assert.Equal(d, result.Aggregate.Length);
            Assert.All(result.Aggregate, v => Assert.True(float.IsFinite(v)));
            Assert.Equal(result.Selected.Order(), result.Selected);
            Assert.Equal(result.Flagged.Select(x => x.Index).Order(), result.Flagged.Select(x => x.Index));
            Assert.Empty(result.Selected.Intersect(result.Flagged.Select(x => x.Index)));
            Assert.Equal(Enumerable.Range(0, n), result.Selected.Concat(result.Flagged.Select(x => x.Index)).Order());
            Assert.All(result.Flagged, x => Assert.False(string.IsNullOrWhiteSpace(x.Reason)));
            Assert.Equal(n, result.Scores!.Count);
        }, iter: 60);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void NameIsTheCliSpelling(string method)
    {
        IAggregator aggregator = Create(method, 1, 3, new SeededRandomSource(1));
        Assert.Equal(method == "cosine+krum" ? "cosine-anomaly+krum" : method, aggregator.Name);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void MismatchedLengthsAndEmptyInputsAreRejected(string method)
    {
        IAggregator aggregator = Create(method, 1, 3, new SeededRandomSource(2));
        var rows = Uniform(new SeededRandomSource(3), 8, 3);
        rows[5] = new float[4];
        Assert.Throws<ArgumentException>(() => aggregator.Aggregate(rows, []));
        Assert.ThrowsAny<ArgumentException>(() => aggregator.Aggregate([], []));
    }
}
