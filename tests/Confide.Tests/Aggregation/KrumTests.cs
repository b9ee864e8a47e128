using Confide.Aggregation;
using Confide.Randomness;
using CsCheck;
using static Confide.Tests.Aggregation.SelectionTestData;

namespace Confide.Tests.Aggregation;

public sealed class KrumTests
{
    // Five 1-D inputs 0, 1, 1.5, 3, 100 with f = 1: each score sums the n − f − 2 = 2 smallest squared distances.
    //   0   → 1² + 1.5²          = 3.25
    //   1   → 0.5² + 1²          = 1.25   (best)
    //   1.5 → 0.5² + 1.5²        = 2.5
    //   3   → 1.5² + 2²          = 6.25
    //   100 → 97² + 98.5²        = 19111.25
    private static readonly ReadOnlyMemory<float>[] FivePoints = Rows([0f], [1f], [1.5f], [3f], [100f]);
    private static readonly double[] FivePointScores = [3.25, 1.25, 2.5, 6.25, 19111.25];

    /// <summary>Scores agree to rounding: distances are computed on block-centred values, so exact decimals may differ in the last bits.</summary>
    internal static void AssertScores(double[] expected, IReadOnlyList<double>? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Length, actual!.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-9 * Math.Max(1, expected[i]));
        }
    }

    [Fact]
    public void KrumReturnsTheInputWithTheLowestScoreAndReportsEveryScore()
    {
        AggregationResult result = new Krum(f: 1).Aggregate(FivePoints, []);

        Assert.Equal([1f], result.Aggregate);
        Assert.Equal([1], result.Selected);
        AssertScores(FivePointScores, result.Scores);
    }

    [Fact]
    public void KrumFlagsEveryOtherInputWithItsScoreAndRank()
    {
        AggregationResult result = new Krum(f: 1).Aggregate(FivePoints, []);

        Assert.Equal([0, 2, 3, 4], result.Flagged.Select(x => x.Index));
        FlaggedInput outlier = result.Flagged.Single(x => x.Index == 4);
        Assert.Contains("excluded by Krum", outlier.Reason, StringComparison.Ordinal);
        Assert.Contains("score 19111.2", outlier.Reason, StringComparison.Ordinal);
        Assert.Contains("ranked 5 of 5", outlier.Reason, StringComparison.Ordinal);
        Assert.Contains("ranked 2 of 5", result.Flagged.Single(x => x.Index == 2).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void KrumOnTwoCoordinatesUsesSquaredEuclideanDistance()
    {
        // (0,0), (3,4), (0,1), (−6,8), (1,0) with f = 1 → 2 neighbours.
        // Squared distances: d01=25, d02=1, d03=100, d04=1, d12=18, d13=97, d14=20, d23=85, d24=2, d34=113.
        // Scores: 0 → 1+1 = 2; 1 → 18+20 = 38; 2 → 1+2 = 3; 3 → 85+97 = 182; 4 → 1+2 = 3.
        var rows = Rows([0f, 0f], [3f, 4f], [0f, 1f], [-6f, 8f], [1f, 0f]);
        AggregationResult result = new Krum(f: 1).Aggregate(rows, [10, 20, 30, 40, 50]);

        Assert.Equal([0f, 0f], result.Aggregate);
        AssertScores([2.0, 38, 3, 182, 3], result.Scores);
    }

    [Fact]
    public void MultiKrumAveragesTheMBestUnweighted()
    {
        // The three best scores are inputs 1 (1.25), 2 (2.5) and 0 (3.25): (1 + 1.5 + 0) / 3. Weights do not matter.
        AggregationResult result = new MultiKrum(f: 1, m: 3).Aggregate(FivePoints, [1, 1, 1000, 1, 1]);

        Assert.Equal(2.5f / 3f, result.Aggregate[0], 6);
        Assert.Equal([0, 1, 2], result.Selected);
        Assert.Equal([3, 4], result.Flagged.Select(x => x.Index));
        Assert.Contains("excluded by Multi-Krum", result.Flagged[0].Reason, StringComparison.Ordinal);
        Assert.Contains("ranked 4 of 5", result.Flagged[0].Reason, StringComparison.Ordinal);
        AssertScores(FivePointScores, result.Scores);
    }

    [Fact]
    public void MultiKrumWithMOneIsKrum()
    {
        var rows = Uniform(new SeededRandomSource(11), 9, 33);
        AggregationResult krum = new Krum(2).Aggregate(rows, []);
        AggregationResult multi = new MultiKrum(2, 1).Aggregate(rows, []);
        Assert.Equal(krum.Aggregate, multi.Aggregate);
        Assert.Equal(krum.Selected, multi.Selected);
    }

    [Theory]
    [InlineData(4, 1)]
    [InlineData(6, 2)]
    [InlineData(2, 0)]
    public void KrumRejectsTooFewInputsNamingNAndF(int n, int f)
    {
        var rows = Uniform(new SeededRandomSource(1), n, 3);
        var ex = Assert.Throws<ArgumentException>(() => new Krum(f).Aggregate(rows, []));
        Assert.Contains("n > 2f + 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"n = {n}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"f = {f}", ex.Message, StringComparison.Ordinal);

        var multi = Assert.Throws<ArgumentException>(() => new MultiKrum(f, 1).Aggregate(rows, []));
        Assert.Contains($"n = {n}", multi.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KrumAcceptsTheSmallestLegalN()
    {
        var rows = Uniform(new SeededRandomSource(2), 5, 3);
        Assert.Single(new Krum(1).Aggregate(rows, []).Selected);
    }

    [Fact]
    public void MultiKrumRejectsMAboveNMinusF()
    {
        var ex = Assert.Throws<ArgumentException>(() => new MultiKrum(f: 1, m: 5).Aggregate(FivePoints, []));
        Assert.Contains("m = 5 exceeds n − f = 4", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConstructorsRejectNegativeFAndNonPositiveM()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Krum(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiKrum(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiKrum(1, 0));
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var krum = new Krum(0);
        var lengths = Assert.Throws<ArgumentException>(() => krum.Aggregate(Rows([1f, 2f], [1f, 2f], [1f]), []));
        Assert.Contains("update 2 has 1 values but update 0 has 2", lengths.Message, StringComparison.Ordinal);

        var weights = Assert.Throws<ArgumentException>(() => krum.Aggregate(Rows([1f], [2f], [3f]), [1, 2]));
        Assert.Contains("2 weights for 3 updates", weights.Message, StringComparison.Ordinal);

        var negative = Assert.Throws<ArgumentException>(() => krum.Aggregate(Rows([1f], [2f], [3f]), [1, -2, 1]));
        Assert.Contains("weight 1 is -2", negative.Message, StringComparison.Ordinal);

        var nan = Assert.Throws<ArgumentException>(() => krum.Aggregate(Rows([1f], [float.PositiveInfinity], [3f]), []));
        Assert.Contains("Update 1 contains a non-finite value", nan.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => krum.Aggregate([], []));
    }

    [Fact]
    public void AggregatesArePermutationInvariant()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 4], Gen.Int[1, 40], Gen.Int[0, int.MaxValue]).Sample((f, extra, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            int n = (2 * f) + 3 + extra;
            var rows = Uniform(random, n, d);
            int[] permutation = Permutation(random, n);
            var permuted = Permute(rows, permutation);
            int m = Math.Max(1, n - f - 1);

            foreach (IAggregator aggregator in new IAggregator[] { new Krum(f), new MultiKrum(f, m) })
            {
                AggregationResult original = aggregator.Aggregate(rows, []);
                AggregationResult shuffled = aggregator.Aggregate(permuted, []);
                AssertClose(original.Aggregate, shuffled.Aggregate);
                // permuted[k] is rows[permutation[k]], so indices map back through the permutation.
                Assert.Equal(original.Selected, shuffled.Selected.Select(k => permutation[k]).Order());
            }
        }, iter: 150);
    }

    [Fact]
    public void IdenticalInputsGiveThatInput()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[1, 50], Gen.Int[0, int.MaxValue]).Sample((f, d, seed) =>
        {
            var row = Uniform(new SeededRandomSource((ulong)seed), 1, d)[0];
            int n = (2 * f) + 3;
            var rows = Enumerable.Repeat(row, n).ToArray();
            Assert.Equal(row.ToArray(), new Krum(f).Aggregate(rows, []).Aggregate);
            // The mean is summed in double and divided once, so it is exact.
            Assert.Equal(row.ToArray(), new MultiKrum(f, n - f).Aggregate(rows, []).Aggregate);
        }, iter: 100);
    }

    [Fact]
    public void HugeOutliersAreNeverChosen()
    {
        // Honest inputs lie in [−1, 1]^d; f of them are replaced by values of magnitude 1e5..1e9. Krum must return one
        // of the honest inputs, and Multi-Krum's average must stay inside the honest inputs' coordinate range.
        Gen.Select(Gen.Int[1, 4], Gen.Int[0, 4], Gen.Int[1, 30], Gen.Int[0, int.MaxValue]).Sample((f, extra, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            int n = (2 * f) + 3 + extra;
            var rows = Uniform(random, n, d);
            int[] outliers = InjectOutliers(random, rows, f);

            AggregationResult krum = new Krum(f).Aggregate(rows, []);
            Assert.DoesNotContain(krum.Selected[0], outliers);
            Assert.All(outliers, o => Assert.Contains(krum.Flagged, x => x.Index == o));

            AggregationResult multi = new MultiKrum(f, n - f).Aggregate(rows, []);
            Assert.Empty(multi.Selected.Intersect(outliers));
            var (min, max) = Range(rows, outliers);
            for (int k = 0; k < d; k++)
            {
                Assert.InRange(multi.Aggregate[k], min[k] - 1e-6f, max[k] + 1e-6f);
            }
        }, iter: 150);
    }
}
