using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Tests.Privacy;

public sealed class DpFedAvgTests
{
    /// <summary>Records every request and adds a fixed value, so the arithmetic around the noise can be checked exactly.</summary>
    private sealed class RecordingNoise(double value = 0) : IGaussianNoise
    {
        public List<double> StandardDeviations { get; } = [];

        public void AddTo(Span<float> values, double standardDeviation)
        {
            StandardDeviations.Add(standardDeviation);
            for (int i = 0; i < values.Length; i++)
            {
                values[i] += (float)value;
            }
        }

        public void Fill(Span<double> destination, double standardDeviation)
        {
            StandardDeviations.Add(standardDeviation);
            destination.Fill(value);
        }
    }

    private static ReadOnlyMemory<float>[] Updates(params float[][] u) => [.. u.Select(x => new ReadOnlyMemory<float>(x))];

    [Fact]
    public void ServerSideClipsSumsAddsNoiseOnceAndDividesByExpectedClients()
    {
        var noise = new RecordingNoise(0.5);
        var ledger = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(1.1, 1.0, expectedClientsPerRound: 4, population: 100, ClippingPlacement.Server), noise, ledger);
        var round = dp.AggregateRound(0, Updates([3, 4], [0.3f, 0.4f], [0, -2]));

        // Clipped: (0.6, 0.8), (0.3, 0.4), (0, −1); sum (0.9, 0.2); plus noise 0.5 each; divided by m = 4.
        Assert.Equal((0.9 + 0.5) / 4, round.Result.Aggregate[0], 5);
        Assert.Equal((0.2 + 0.5) / 4, round.Result.Aggregate[1], 5);
        Assert.Equal([5.0, 0.5, 2.0], round.PreClipNorms.Select(n => Math.Round(n, 5)));
        Assert.Equal([1.1], noise.StandardDeviations); // σ·C, on the sum, once
        var release = Assert.Single(ledger.Releases);
        Assert.Equal(0.04, release.SampleRate, 15);
        Assert.Equal(1.1, release.NoiseMultiplier);
        Assert.Equal("dp-fedavg", release.Mechanism);
        Assert.Equal(ledger.Spent, round.Spent);
    }

    [Fact]
    public void NoiseOnTheAverageHasStandardDeviationZCOverM()
    {
        // One all-zero update: the output is pure noise, N(0, (zC/m)²) per coordinate.
        const int d = 100_000;
        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(1.1, 2.0, 4, 100, ClippingPlacement.Server), new GaussianNoise(new SeededRandomSource(3)), new PrivacyLedger(new PrivacyBudget(10, 1e-5)));
        var avg = dp.AggregateRound(0, Updates(new float[d])).Result.Aggregate;
        double expected = 1.1 * 2.0 / 4;
        double variance = avg.Sum(v => (double)v * v) / d;
        Assert.InRange(variance, expected * expected * (1 - (5 * Math.Sqrt(2.0 / d))), expected * expected * (1 + (5 * Math.Sqrt(2.0 / d))));
    }

    [Fact]
    public void RefusedRoundDrawsNoNoise()
    {
        var noise = new RecordingNoise();
        var ledger = new PrivacyLedger(new PrivacyBudget(4.0, 1e-5));
        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(1.0, 1.0, 10, 100, ClippingPlacement.Server), noise, ledger);
        var updates = Updates([1, 2], [3, 4]);
        int rounds = 0;
        while (true)
        {
            int drawsBefore = noise.StandardDeviations.Count;
            try
            {
                dp.Aggregate(updates, [1.0, 1.0]);
                rounds++;
            }
            catch (PrivacyBudgetExceededException ex)
            {
                Assert.Equal(drawsBefore, noise.StandardDeviations.Count);
                Assert.Equal(rounds, ledger.Releases.Count);
                Assert.True(ex.EpsilonAfter > 4.0);
                break;
            }

            Assert.True(rounds < 10_000);
        }

        Assert.True(rounds > 0);
        Assert.True(ledger.Spent.Epsilon <= 4.0);
    }

    [Fact]
    public void ClientSideTrustsClippedUpdatesButReclipsAndFlagsOversizedOnes()
    {
        var noise = new RecordingNoise();
        var ledger = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(1.0, 1.0, 2, 100, ClippingPlacement.Client), noise, ledger);
        float[] honest = [3, 4];
        var report = DpFedAvg.ClipOnClient(honest, dp.CurrentClipNorm);
        Assert.Equal(5.0, report.PreClipNorm, 5);
        var round = dp.AggregateRound(0, Updates(honest, [0, 10]));
        var flag = Assert.Single(round.Result.Flagged);
        Assert.Equal(1, flag.Index);
        Assert.Contains("norm 10", flag.Reason, StringComparison.Ordinal);
        Assert.Equal(0.6 / 2, round.Result.Aggregate[0], 5);
        Assert.Equal((0.8 + 1.0) / 2, round.Result.Aggregate[1], 4);
    }

    [Fact]
    public void PerLayerClippingBoundsEachTensorToCOverRootL()
    {
        var layout = Confide.Parameters.ParameterLayout.Create(("w", new[] { 2 }), ("b", new[] { 2 }));
        var noise = new RecordingNoise();
        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(1.0, 2.0, 1, 10, ClippingPlacement.Server, layout), noise, new PrivacyLedger(new PrivacyBudget(50, 1e-5)));
        // Tensor w = (3, 4) has norm 5 > 2/√2 and is scaled to √2; b = (0.1, 0) is left alone.
        var round = dp.AggregateRound(0, Updates([3, 4, 0.1f, 0]));
        Assert.Equal(3 * Math.Sqrt(2) / 5, round.Result.Aggregate[0], 4);
        Assert.Equal(4 * Math.Sqrt(2) / 5, round.Result.Aggregate[1], 4);
        Assert.Equal(0.1, round.Result.Aggregate[2], 6);
        Assert.Equal([2.0], noise.StandardDeviations); // the sum's sensitivity is still C
        Assert.Throws<ArgumentException>(() => dp.AggregateRound(1, Updates([1, 2, 3])));

        var client = new DpFedAvg(DpFedAvgOptions.Fixed(1.0, 2.0, 1, 10, ClippingPlacement.Client, layout), noise, new PrivacyLedger(new PrivacyBudget(50, 1e-5)));
        var p = new Confide.Parameters.ModelParameters(layout, [3, 4, 0.1f, 0]);
        var report = DpFedAvg.ClipOnClient(p, 2.0);
        Assert.Equal(5.0, report.LayerPreClipNorms[0], 5);
        var ok = client.AggregateRound(0, [p.AsMemory(), new float[] { 0, 0, 30, 40 }]);
        var flag = Assert.Single(ok.Result.Flagged);
        Assert.Equal(1, flag.Index);
        Assert.Contains("tensor 'b'", flag.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AdaptiveClippingChargesTheEffectiveMultiplierAndSplitsTheNoise()
    {
        var noise = new RecordingNoise();
        var ledger = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        var adaptive = new AdaptiveClippingOptions(initialClipNorm: 1.0, targetQuantile: 0.5, learningRate: 0.2, countNoiseStdDev: 2.0);
        var options = DpFedAvgOptions.Adaptive(1.0, adaptive, 40, 1000, ClippingPlacement.Server);
        // z_Δ = (1 − 1/16)^(−1/2).
        Assert.Equal(1 / Math.Sqrt(1 - (1.0 / 16)), options.UpdateNoiseMultiplier, 12);
        Assert.Equal(1.0, AdaptiveClipping.EffectiveNoiseMultiplier(options.UpdateNoiseMultiplier, 2.0), 12);

        var dp = new DpFedAvg(options, noise, ledger);
        var round = dp.AggregateRound(0, Updates([0.1f, 0], [3, 0], [4, 0]));
        Assert.Equal([options.UpdateNoiseMultiplier * 1.0, 2.0], noise.StandardDeviations);
        var release = Assert.Single(ledger.Releases);
        Assert.Equal("dp-fedavg+adaptive-clipping", release.Mechanism);
        Assert.Equal(1.0, release.NoiseMultiplier);
        // One of three under C = 1, zero noise: b̄ = (1 − 1.5 + 20)/40; C ← exp(−0.2(b̄ − 0.5)).
        double b = (1 - 1.5 + 20) / 40.0;
        Assert.Equal(Math.Exp(-0.2 * (b - 0.5)), round.NextClipNorm, 12);
        Assert.Equal(round.NextClipNorm, dp.CurrentClipNorm);

        var clientSide = new DpFedAvg(DpFedAvgOptions.Adaptive(1.0, adaptive, 40, 1000, ClippingPlacement.Client), noise, new PrivacyLedger(new PrivacyBudget(10, 1e-5)));
        Assert.Throws<ArgumentException>(() => clientSide.AggregateRound(0, Updates([0.1f, 0])));
        clientSide.AggregateRound(0, Updates([0.1f, 0]), [true]);
    }

    [Fact]
    public void AdaptiveClipNormTracksTheTargetQuantile()
    {
        // Norms uniform on [0, 10] over m = 200 clients; γ = 0.3 → C should settle near 3.
        // The count noise σ_b = m/20 = 10 gives b̄ an sd of 0.05; 300 steps at η = 0.2 forget the start (C₀ = 0.1).
        var clip = new AdaptiveClipping(new AdaptiveClippingOptions(0.1, 0.3, 0.2, 10));
        var noise = new GaussianNoise(new SeededRandomSource(9));
        var norms = Enumerable.Range(0, 200).Select(i => 10.0 * (i + 0.5) / 200).ToArray();
        var late = new List<double>();
        for (int t = 0; t < 300; t++)
        {
            clip.Update(norms, 200, noise);
            if (t >= 200)
            {
                late.Add(clip.ClipNorm);
            }
        }

        Assert.InRange(late.Average(), 2.7, 3.3);
    }

    [Fact]
    public void OptionsAndInputsAreValidated()
    {
        var adaptive = new AdaptiveClippingOptions(1, 0.5, 0.2, 0.4);
        // 2σ_b = 0.8 ≤ z = 1: the count alone would cost more than z.
        Assert.Throws<ArgumentOutOfRangeException>(() => DpFedAvgOptions.Adaptive(1.0, adaptive, 10, 100, ClippingPlacement.Server));
        Assert.Throws<ArgumentOutOfRangeException>(() => DpFedAvgOptions.Fixed(1, 1, 10, 5, ClippingPlacement.Server));
        Assert.Throws<ArgumentOutOfRangeException>(() => DpFedAvgOptions.Fixed(0, 1, 10, 100, ClippingPlacement.Server));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveClippingOptions(1, 1.0, 0.2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveClippingOptions(1, 0.5, 0.2, 0));

        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(1, 1, 10, 100, ClippingPlacement.Server), new RecordingNoise(), new PrivacyLedger(new PrivacyBudget(10, 1e-5)));
        Assert.Throws<ArgumentException>(() => dp.AggregateRound(0, []));
        Assert.Throws<ArgumentException>(() => dp.AggregateRound(0, Updates([1, 2], [1])));
        Assert.Throws<ArgumentException>(() => dp.AggregateRound(0, Updates([1, float.NaN])));
        Assert.Throws<ArgumentException>(() => dp.Aggregate(Updates([1, 2]), [1.0, 2.0]));
        Assert.Empty(dp.Ledger.Releases); // bad input is rejected before the charge
    }
}
