using Confide.Aggregation;
using Confide.Randomness;
using CsCheck;
using static Confide.Tests.Aggregation.SelectionTestData;

namespace Confide.Tests.Aggregation;

public sealed class AnomalyDetectionTests
{
    private static float[] Angle(double degrees, double length = 1) =>
        [(float)(length * Math.Cos(degrees * Math.PI / 180)), (float)(length * Math.Sin(degrees * Math.PI / 180))];

    private static double CosineDistance(double degrees) => 1 - Math.Cos(degrees * Math.PI / 180);

    /// <summary>Honest updates near a common direction, and sign-flipped ones at the given indices.</summary>
    private static ReadOnlyMemory<float>[] ClusterWithSignFlips(IRandomSource random, int n, int d, int[] attackers)
    {
        var direction = Uniform(random, 1, d)[0].ToArray();
        var rows = new ReadOnlyMemory<float>[n];
        for (int i = 0; i < n; i++)
        {
            var row = new float[d];
            double sign = attackers.Contains(i) ? -1 : 1;
            for (int k = 0; k < d; k++)
            {
                row[k] = (float)((sign * direction[k]) + (0.3 * ((2 * random.NextDouble()) - 1)));
            }

            rows[i] = row;
        }

        return rows;
    }

    [Fact]
    public void KnownAnswerOnUnitVectorsAtAngles()
    {
        // Honest updates at 0°, 10°, 20°, 30°, 40° with different lengths; one at 180°.
        // Median cosine distance to the other five:
        //   0° and 40°: distances (10°, 20°, 30°, 40°, 140°/180°) → median c30 = 1 − cos 30°
        //   10°, 20°, 30°: median c20 = 1 − cos 20°
        //   180°: distances 1 + cos θ for θ = 0..40 → median 1 + cos 20°
        // Scores sorted: c20, c20, c20, c30, c30, 1 + cos 20° → median (c20 + c30)/2, MAD (c30 − c20)/2.
        var rows = Rows(Angle(0, 1), Angle(10, 5), Angle(20, 0.1), Angle(30, 2), Angle(40, 7), Angle(180, 3));
        AnomalyReport report = new CosineAnomalyDetector().Detect(rows);

        double c20 = CosineDistance(20), c30 = CosineDistance(30);
        double expectedThreshold = ((c20 + c30) / 2) + (3 * 1.4826 * (c30 - c20) / 2);
        Assert.Equal(expectedThreshold, report.Threshold, 6);
        Assert.Equal(c30, report.Scores[0], 6);
        Assert.Equal(c20, report.Scores[2], 6);
        Assert.Equal(1 + Math.Cos(20 * Math.PI / 180), report.Scores[5], 6);
        FlaggedInput flag = Assert.Single(report.Flagged);
        Assert.Equal(5, flag.Index);
        Assert.Contains("median cosine distance to the others 1.94", flag.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void FlagsSignFlippedClientsAndTheSameOnesAtAnyScale()
    {
        var random = new SeededRandomSource(21);
        int[] attackers = [3, 7, 11];
        var rows = ClusterWithSignFlips(random, 15, 200, attackers);
        var detector = new CosineAnomalyDetector();

        int[] flagged = detector.Detect(rows).Flagged.Select(x => x.Index).ToArray();
        Assert.Equal(attackers, flagged);

        foreach (float scale in new[] { 1000f, 1e-3f })
        {
            var scaled = rows.Select(r => (ReadOnlyMemory<float>)r.ToArray().Select(v => v * scale).ToArray()).ToArray();
            Assert.Equal(flagged, detector.Detect(scaled).Flagged.Select(x => x.Index));
        }

        // Scaling each client by its own positive factor does not change a cosine either.
        var mixed = rows.Select((r, i) => (ReadOnlyMemory<float>)r.ToArray().Select(v => v * (1 + (i * 37 % 11))).ToArray()).ToArray();
        Assert.Equal(flagged, detector.Detect(mixed).Flagged.Select(x => x.Index));
    }

    [Fact]
    public void ScaleFreeProperty()
    {
        Gen.Select(Gen.Int[6, 20], Gen.Int[2, 60], Gen.Int[0, int.MaxValue]).Sample((n, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            var rows = ClusterWithSignFlips(random, n, d, Permutation(random, n)[..((n - 1) / 4)]);
            var detector = new CosineAnomalyDetector();
            AnomalyReport plain = detector.Detect(rows);
            var scaled = rows.Select(r => (ReadOnlyMemory<float>)r.ToArray().Select(v => v * 1000f).ToArray()).ToArray();
            AnomalyReport big = detector.Detect(scaled);
            Assert.Equal(plain.Flagged.Select(x => x.Index), big.Flagged.Select(x => x.Index));
            for (int i = 0; i < n; i++)
            {
                // ×1000 rounds each float, so cosines agree to float precision, not exactly.
                Assert.Equal(plain.Scores[i], big.Scores[i], 1e-6);
            }
        }, iter: 100);
    }

    [Fact]
    public void FlagsFollowTheInputsUnderPermutation()
    {
        Gen.Select(Gen.Int[6, 20], Gen.Int[2, 40], Gen.Int[0, int.MaxValue]).Sample((n, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            var rows = ClusterWithSignFlips(random, n, d, Permutation(random, n)[..((n - 1) / 4)]);
            int[] permutation = Permutation(random, n);
            var detector = new CosineAnomalyDetector();
            AnomalyReport original = detector.Detect(rows);
            AnomalyReport shuffled = detector.Detect(Permute(rows, permutation));
            Assert.Equal(original.Flagged.Select(x => x.Index), shuffled.Flagged.Select(x => permutation[x.Index]).Order());
            Assert.Equal(original.Threshold, shuffled.Threshold, 1e-12);
        }, iter: 100);
    }

    [Fact]
    public void FlagsFewerThanHalfAndNothingInATightCluster()
    {
        Gen.Select(Gen.Int[3, 25], Gen.Int[1, 30], Gen.Int[0, int.MaxValue]).Sample((n, d, seed) =>
        {
            var rows = Uniform(new SeededRandomSource((ulong)seed), n, d);
            if (rows.Any(r => r.Span.IndexOfAnyExcept(0f) < 0))
            {
                return;
            }

            Assert.True(new CosineAnomalyDetector().Detect(rows).Flagged.Count * 2 < n);
        }, iter: 100);

        // Twelve copies of one direction with 0.1 % noise: every cosine distance is tiny, and the spread floor keeps
        // rounding-level differences from being flagged.
        var random = new SeededRandomSource(4);
        var tight = ClusterWithSignFlips(random, 12, 50, []).Select(r => r.ToArray()).ToArray();
        var reference = tight[0];
        var almostSame = tight.Select(r => (ReadOnlyMemory<float>)reference.Select((v, k) => v * (1 + (1e-3f * r[k]))).ToArray()).ToArray();
        Assert.Empty(new CosineAnomalyDetector().Detect(almostSame).Flagged);
    }

    [Fact]
    public void ZeroUpdatesAreFlaggedAndPreconditionsChecked()
    {
        var rows = Rows(Angle(0), Angle(5), [0f, 0f], Angle(10), Angle(15));
        AnomalyReport report = new CosineAnomalyDetector().Detect(rows);
        FlaggedInput zero = Assert.Single(report.Flagged);
        Assert.Equal(2, zero.Index);
        Assert.Contains("all zeros", zero.Reason, StringComparison.Ordinal);

        var few = Assert.Throws<ArgumentException>(() => new CosineAnomalyDetector().Detect(Rows(Angle(0), [0f, 0f], Angle(3))));
        Assert.Contains("at least 3 non-zero updates", few.Message, StringComparison.Ordinal);
        Assert.Contains("got 2 of 3", few.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnomalyOptions { Threshold = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnomalyOptions { Threshold = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnomalyOptions { MinimumSpread = -0.1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnomalyOptions { MinimumSpread = 3 });
    }

    [Fact]
    public void AStricterThresholdFlagsMore()
    {
        var rows = Rows(Angle(0), Angle(10), Angle(20), Angle(30), Angle(40), Angle(70));
        // The 70° update's median cosine distance is 1 − cos 50° ≈ 0.357 against a threshold of
        // 0.097 + k × 0.0546: flagged at k = 3, not at k = 10.
        Assert.Equal([5], new CosineAnomalyDetector().Detect(rows).Flagged.Select(x => x.Index));
        var lenient = new CosineAnomalyDetector(new CosineAnomalyOptions { Threshold = 10 });
        Assert.Empty(lenient.Detect(rows).Flagged);
    }

    [Fact]
    public void FilterDropsFlaggedInputsAndRemapsTheInnerResultToInputOrder()
    {
        var random = new SeededRandomSource(33);
        int[] attackers = [1, 6];
        var rows = ClusterWithSignFlips(random, 9, 40, attackers);
        var inner = new RecordingAggregator();
        var filter = new AnomalyFilter(new CosineAnomalyDetector(), inner);

        AggregationResult result = filter.Aggregate(rows, [1, 2, 3, 4, 5, 6, 7, 8, 9]);

        int[] kept = [0, 2, 3, 4, 5, 7, 8];
        Assert.Equal(kept.Select(i => rows[i].ToArray()), inner.Received!.Select(r => r.ToArray()));
        Assert.Equal(kept.Select(i => (double)(i + 1)), inner.ReceivedWeights);
        // The fake inner aggregator selects all its inputs but flags its first one (original index 0).
        Assert.Equal(kept, result.Selected);
        Assert.Equal([0, 1, 6], result.Flagged.Select(x => x.Index));
        Assert.Equal("fake exclusion", result.Flagged[0].Reason);
        Assert.Contains("cosine anomaly", result.Flagged[1].Reason, StringComparison.Ordinal);
        Assert.Equal(9, result.Scores!.Count);
        Assert.Equal("cosine-anomaly+recording", filter.Name);
    }

    [Fact]
    public void FilterInFrontOfKrumReportsOriginalIndices()
    {
        var random = new SeededRandomSource(34);
        var rows = ClusterWithSignFlips(random, 10, 30, [4]);
        AggregationResult direct = new Krum(1).Aggregate(rows.Where((_, i) => i != 4).ToArray(), []);
        AggregationResult filtered = new AnomalyFilter(new CosineAnomalyDetector(), new Krum(1)).Aggregate(rows, []);

        int expected = direct.Selected[0] >= 4 ? direct.Selected[0] + 1 : direct.Selected[0];
        Assert.Equal([expected], filtered.Selected);
        Assert.Equal(direct.Aggregate, filtered.Aggregate);
        Assert.Equal(9, filtered.Flagged.Count);
        Assert.Contains(filtered.Flagged, x => x.Index == 4 && x.Reason.Contains("cosine", StringComparison.Ordinal));
    }

    [Fact]
    public void FilterExplainsWhenTooFewInputsRemainForTheInnerAggregator()
    {
        // Seven inputs, two sign-flipped: five remain, and Krum with f = 2 needs at least seven.
        var rows = ClusterWithSignFlips(new SeededRandomSource(35), 7, 20, [2, 5]);
        var ex = Assert.Throws<ArgumentException>(() => new AnomalyFilter(new CosineAnomalyDetector(), new Krum(2)).Aggregate(rows, []));
        Assert.Contains("flagged 2 of 7 inputs", ex.Message, StringComparison.Ordinal);
        Assert.Contains("remaining 5", ex.Message, StringComparison.Ordinal);
        Assert.Contains("n > 2f + 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FilterRejectsMismatchedWeights()
    {
        var filter = new AnomalyFilter(new CosineAnomalyDetector(), new Krum(0));
        var ex = Assert.Throws<ArgumentException>(() => filter.Aggregate(Rows(Angle(0), Angle(1), Angle(2)), [1, 2]));
        Assert.Contains("2 weights for 3 updates", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new AnomalyFilter(null!, new Krum(0)));
    }

    private sealed class RecordingAggregator : IAggregator
    {
        public IReadOnlyList<ReadOnlyMemory<float>>? Received { get; private set; }

        public double[] ReceivedWeights { get; private set; } = [];

        public string Name => "recording";

        public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
        {
            Received = updates;
            ReceivedWeights = weights.ToArray();
            return new AggregationResult(updates[0].ToArray(), Enumerable.Range(0, updates.Count).ToArray(), [new FlaggedInput(0, "fake exclusion")]);
        }
    }
}
