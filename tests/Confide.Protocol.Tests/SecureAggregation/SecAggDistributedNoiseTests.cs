using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggDistributedNoiseTests
{
    [Fact]
    public void TheSumCarriesTheTargetNoiseWhenEnoughClientsSurvive()
    {
        const int N = 10, D = 400;
        var noise = new SecAggNoiseOptions(sumSigma: 2.0, minimumSurvivors: 8);
        double scale = 1 << 12;
        var quantizer = new StochasticQuantizer(new QuantizerOptions(1.0, scale, maxWeight: 5, maxClients: N, modulusBits: 40, noiseHeadroomPerClient: noise.RequiredHeadroom(scale)));
        var options = new SecAggOptions(N, 4, D + 1, modulusBits: 40);
        IRandomSource random = new SeededRandomSource(77);
        var updates = Enumerable.Range(0, N).Select(_ => Enumerable.Range(0, D).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray()).ToArray();
        long[] weights = Enumerable.Range(0, N).Select(u => 1L + (u % 5)).ToArray();

        SecAggMeanResult result = SecAggSimulation.RunWeightedMean(updates, weights, quantizer, options, SecAggDropouts.None, new SeededRandomSource(78), noise);

        Assert.NotNull(result.Mean);
        long total = weights.Sum();
        Assert.Equal(total, result.TotalWeight);

        // Noise on the weighted sum, per coordinate: (decoded − exact)·Σw. Expected σ = 2 · √(10/8) ≈ 2.236; the
        // rounding error (< 10/s per coordinate) is negligible at this scale.
        double expected = noise.SumSigma * Math.Sqrt(N / (double)noise.MinimumSurvivors);
        Assert.Equal(expected / total, result.NoiseSigma, 3);
        double[] errors = Enumerable.Range(0, D)
            .Select(i => (result.Mean![i] * (double)total) - Enumerable.Range(0, N).Sum(u => weights[u] * (double)updates[u][i]))
            .ToArray();
        double mean = errors.Average();
        double sd = Math.Sqrt(errors.Sum(e => (e - mean) * (e - mean)) / (D - 1));

        // With 400 samples the sample standard deviation has relative standard error ≈ 1/√800 ≈ 3.5 %: allow 5 of them.
        Assert.InRange(sd, expected * 0.82, expected * 1.18);
        Assert.InRange(mean, -5 * expected / Math.Sqrt(D), 5 * expected / Math.Sqrt(D));
    }

    [Fact]
    public void RefusesNoiseThatTheQuantizerHasNoHeadroomFor()
    {
        var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(1.0, 1, maxClients: 4));
        var options = new SecAggOptions(4, 2, 3);
        var updates = Enumerable.Range(0, 4).Select(_ => new float[2]).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => SecAggSimulation.RunWeightedMean(
            updates, [1, 1, 1, 1], quantizer, options, SecAggDropouts.None, new SeededRandomSource(1), new SecAggNoiseOptions(1.0, 3)));
        Assert.Contains("headroom", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PrivacyEntryUsesTheQuantizersWorstCaseNormAndTheMinimumSurvivors()
    {
        var noise = new SecAggNoiseOptions(sumSigma: 2.0, minimumSurvivors: 8);
        var quantizer = new QuantizerOptions(1.0, 1 << 12, maxWeight: 5, maxClients: 10, modulusBits: 40, noiseHeadroomPerClient: noise.RequiredHeadroom(1 << 12));
        var entry = noise.PrivacyEntry(quantizer, 400, sampleRate: 0.5);
        // w_max·c·s·√D + √D = 5·1·4096·20 + 20 quanta; σ_c = 2·4096/√8.
        Assert.Equal((5 * 4096 * 20) + 20, entry.L2Sensitivity, 9);
        Assert.Equal(2 * 4096 / Math.Sqrt(8), entry.ClientSigma, 9);
        Assert.Equal(8, entry.NoiseShares);
        Assert.Equal(400, entry.Dimension);
        Assert.Equal(0.5, entry.SampleRate);
        // √n·σ_c/Δ₂ = SumSigma·s/Δ₂ ≈ 0.02: noise sized for the sum's accuracy, far below the worst-case sensitivity, so
        // the guarantee is weak (ε in the hundreds) unless updates are L2-clipped and weighted equally.
        Assert.Equal(2.0 * 4096 / ((5 * 4096 * 20) + 20), entry.EffectiveNoiseMultiplier, 12);
        var ledger = new Confide.Privacy.PrivacyLedger(new Confide.Privacy.PrivacyBudget(1e9, 1e-5));
        ledger.Charge(new Confide.Privacy.PrivacyRelease(0, "secagg-distributed-dp", entry));
        Assert.True(ledger.Spent.Epsilon > 100);
    }

    [Fact]
    public void NoiseOptionsAreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggNoiseOptions(0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggNoiseOptions(double.NaN, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggNoiseOptions(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggNoiseOptions(1, 3, tailBound: 2));
    }
}
