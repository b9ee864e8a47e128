using Confide.Aggregation;
using Confide.Aggregation.Internal;
using Confide.Randomness;
using CsCheck;
using static Confide.Tests.Aggregation.SelectionTestData;

namespace Confide.Tests.Aggregation;

public sealed class BulyanTests
{
    // n = 7, f = 1: θ = n − 2f = 5 selected by repeated Krum, then β = θ − 2f = 3 values per coordinate.
    private static readonly ReadOnlyMemory<float>[] SevenPoints =
        Rows([0f, 0f], [1f, 3f], [2f, 1f], [2.5f, 2f], [5f, -2f], [40f, 40f], [9f, 9f]);

    [Fact]
    public void SelectsByRepeatedKrumThenAveragesTheBetaClosestToTheMedian()
    {
        // Krum rounds (neighbours max(1, |R| − f − 2)), squared distances:
        //  1. R = all, 4 neighbours: scores 54.25, 59.25, 29.25, 37, 110.25, 10627.25, 441.25 → input 2.
        //  2. 3 neighbours: 0 → 49.25, 1 → 54.25, 3 → 35.75, 4 → 92.25, 5 → 7662.25, 6 → 328.25 → input 3.
        //  3. 2 neighbours: 0 → 39, 1 → 51, 4 → 70, 5 → 4812, 6 → 237 → input 0.
        //  4. 1 neighbour: 1 and 4 tie at 41 (each other's nearest); (1, 3) < (5, −2) lexicographically → input 1.
        //  5. 1 neighbour: 4 and 6 tie at 137; (5, −2) < (9, 9) → input 4.
        // Selected {0, 1, 2, 3, 4}. Coordinate 0 sorted: 0, 1, 2, 2.5, 5; median 2; the 3 closest are 1, 2, 2.5 → 5.5/3.
        // Coordinate 1 sorted: −2, 0, 1, 2, 3; median 1; the 3 closest are 0, 1, 2 → 1.
        AggregationResult result = new Bulyan(f: 1).Aggregate(SevenPoints, []);

        Assert.Equal([0, 1, 2, 3, 4], result.Selected);
        Assert.Equal(5.5f / 3f, result.Aggregate[0], 6);
        Assert.Equal(1f, result.Aggregate[1]);
        KrumTests.AssertScores([54.25, 59.25, 29.25, 37, 110.25, 10627.25, 441.25], result.Scores);
        Assert.Equal([5, 6], result.Flagged.Select(x => x.Index));
        Assert.Contains("excluded by Bulyan", result.Flagged[0].Reason, StringComparison.Ordinal);
        Assert.Contains("ranked 7 of 7", result.Flagged[0].Reason, StringComparison.Ordinal);
        Assert.Contains("ranked 6 of 7", result.Flagged[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void IncrementalSelectionMatchesRecomputingKrumEveryRound()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 6], Gen.Int[1, 12], Gen.Int[0, int.MaxValue]).Sample((f, extra, d, seed) =>
        {
            int n = (4 * f) + 3 + extra;
            var rows = Uniform(new SeededRandomSource((ulong)seed), n, d);
            double[] distances = PairwiseDistances.SquaredEuclidean(rows);
            int theta = n - (2 * f);

            // The definition: score the remaining set from scratch each round.
            var remaining = Enumerable.Range(0, n).ToList();
            var expected = new List<int>();
            while (expected.Count < theta)
            {
                double[] scores = KrumScoring.Scores(distances, n, remaining, Math.Max(1, remaining.Count - f - 2));
                int best = KrumScoring.Ranking(scores, rows, remaining)[0];
                expected.Add(remaining[best]);
                remaining.RemoveAt(best);
            }

            Assert.Equal(expected, KrumScoring.RepeatedSelection(distances, n, f, theta, rows));
        }, iter: 100);
    }

    [Theory]
    [InlineData(new float[] { 1, 2, 3, 10, 11 }, 3, 2.0)] // median 3; window 1, 2, 3
    [InlineData(new float[] { 0, 5, 6, 7, 100 }, 3, 6.0)] // median 6; window 5, 6, 7
    [InlineData(new float[] { 1, 2, 4, 8 }, 2, 3.0)] // even θ: median 3; window 2, 4
    [InlineData(new float[] { 1, 3, 5 }, 2, 2.0)] // 1 and 5 equally far from 3: the smaller is kept
    [InlineData(new float[] { -7, -1, 0, 0, 0, 2, 30 }, 3, 0.0)]
    [InlineData(new float[] { 1, 2, 3 }, 3, 2.0)] // β = θ: plain mean
    public void CoordinatePhaseAveragesTheBetaValuesClosestToTheMedian(float[] sorted, int beta, double expected)
    {
        Assert.Equal(expected, ClosestToMedianMean.MeanClosestToMedian(sorted, beta), 12);
    }

    [Fact]
    public void FullSortingNetworkSortsEveryZeroOneInputAndRandomInputs()
    {
        // The 0–1 principle: a comparator network that sorts all 2^n sequences of zeros and ones sorts everything.
        for (int n = 1; n <= 13; n++)
        {
            int[] network = SortingNetwork.Full(n);
            for (int bits = 0; bits < 1 << n; bits++)
            {
                var v = new int[n];
                for (int i = 0; i < n; i++)
                {
                    v[i] = (bits >> i) & 1;
                }

                Apply(network, v);
                Assert.True(v.SequenceEqual(v.Order()), $"n = {n}, input {bits}");
            }
        }

        IRandomSource random = new SeededRandomSource(10);
        for (int n = 14; n <= 70; n++)
        {
            var v = Enumerable.Range(0, n).Select(_ => random.NextInt32(50)).ToArray();
            int[] expected = v.Order().ToArray();
            Apply(SortingNetwork.Full(n), v);
            Assert.Equal(expected, v);
        }

        static void Apply(int[] network, int[] v)
        {
            for (int c = 0; c < network.Length; c += 2)
            {
                int low = network[c], high = network[c + 1];
                Assert.True(low < high && high < v.Length);
                (v[low], v[high]) = (Math.Min(v[low], v[high]), Math.Max(v[low], v[high]));
            }
        }
    }

    [Theory]
    [InlineData(6, 1)]
    [InlineData(10, 2)]
    [InlineData(2, 0)]
    public void RejectsFewerThan4FPlus3InputsNamingNAndF(int n, int f)
    {
        var rows = Uniform(new SeededRandomSource(5), n, 4);
        var ex = Assert.Throws<ArgumentException>(() => new Bulyan(f).Aggregate(rows, []));
        Assert.Contains("n ≥ 4f + 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"n = {n}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"f = {f}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"at least {(4 * f) + 3}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsNegativeFAndNonFiniteValues()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Bulyan(-1));
        var rows = Uniform(new SeededRandomSource(6), 7, 3);
        rows[4] = new float[] { 0f, float.NaN, 0f };
        var ex = Assert.Throws<ArgumentException>(() => new Bulyan(1).Aggregate(rows, []));
        Assert.Contains("Update 4", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(260)] // more than 256 selected inputs: the sorting lanes live on the heap, not the stack
    public void WithFZeroItIsTheCoordinateMean(int n)
    {
        // θ = β = n: every input is selected and every value averaged.
        var rows = Uniform(new SeededRandomSource(8), n, 17);
        AggregationResult result = new Bulyan(0).Aggregate(rows, []);
        var mean = new float[17];
        for (int k = 0; k < 17; k++)
        {
            mean[k] = (float)rows.Average(r => (double)r.Span[k]);
        }

        AssertClose(mean, result.Aggregate, 1e-6);
        Assert.Empty(result.Flagged);
    }

    [Fact]
    public void IsPermutationInvariant()
    {
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[1, 40], Gen.Int[0, int.MaxValue]).Sample((f, extra, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            int n = (4 * f) + 3 + extra;
            var rows = Uniform(random, n, d);
            int[] permutation = Permutation(random, n);
            var bulyan = new Bulyan(f);

            AggregationResult original = bulyan.Aggregate(rows, []);
            AggregationResult shuffled = bulyan.Aggregate(Permute(rows, permutation), []);
            // The coordinate phase works on sorted values, so the aggregate is bit-identical.
            Assert.Equal(original.Aggregate, shuffled.Aggregate);
            Assert.Equal(original.Selected, shuffled.Selected.Select(k => permutation[k]).Order());
        }, iter: 100);
    }

    [Fact]
    public void IdenticalInputsGiveThatInput()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[1, 50], Gen.Int[0, int.MaxValue]).Sample((f, d, seed) =>
        {
            var row = Uniform(new SeededRandomSource((ulong)seed), 1, d)[0];
            var rows = Enumerable.Repeat(row, (4 * f) + 3).ToArray();
            Assert.Equal(row.ToArray(), new Bulyan(f).Aggregate(rows, []).Aggregate);
        }, iter: 100);
    }

    [Fact]
    public void StaysWithinTheHonestCoordinateRangeUnderHugeOutliers()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, 3], Gen.Int[1, 30], Gen.Int[0, int.MaxValue]).Sample((f, extra, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            int n = (4 * f) + 3 + extra;
            var rows = Uniform(random, n, d);
            int[] outliers = InjectOutliers(random, rows, f);

            AggregationResult result = new Bulyan(f).Aggregate(rows, []);
            var (min, max) = Range(rows, outliers);
            for (int k = 0; k < d; k++)
            {
                Assert.InRange(result.Aggregate[k], min[k], max[k]);
            }
        }, iter: 150);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LargeInputsTakeTheVectorAndParallelPathsAndMatchADirectComputation(bool smallIntegers)
    {
        // 11 × 20,003 crosses the parallel threshold of both phases and leaves a scalar tail. Small integer values make
        // many ties at the median, where the lane-wise window must agree with the scalar rule (the smaller value wins).
        IRandomSource random = new SeededRandomSource(9);
        var rows = smallIntegers
            ? Enumerable.Range(0, 11).Select(_ => (ReadOnlyMemory<float>)Enumerable.Range(0, 20_003).Select(_ => (float)random.NextInt32(7) - 3).ToArray()).ToArray()
            : Uniform(random, 11, 20_003);
        AggregationResult result = new Bulyan(2).Aggregate(rows, []);
        Assert.Equal(7, result.Selected.Count);
        var values = new float[7];
        for (int k = 0; k < 20_003; k++)
        {
            for (int s = 0; s < 7; s++)
            {
                values[s] = rows[result.Selected[s]].Span[k];
            }

            Array.Sort(values);
            double median = values[3];
            double expected = values.OrderBy(v => Math.Abs(v - median)).ThenBy(v => v).Take(3).Sum(v => (double)v) / 3;
            Assert.Equal((float)expected, result.Aggregate[k]);
        }
    }
}
