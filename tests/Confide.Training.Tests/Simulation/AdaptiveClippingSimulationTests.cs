using Confide.Privacy;
using Confide.Training.Simulation;

namespace Confide.Training.Tests.Simulation;

/// <summary>
/// Adaptive clipping (Andrew et al. 2021) in the simulation, with client-side clipping (plain or under secure
/// aggregation, where only Σ bᵢ leaves the secure sum) and with server-side clipping.
/// </summary>
public sealed class AdaptiveClippingSimulationTests
{
    // 8 clients all sampled each round; σ_b = 1 > z/2. Local training moves the MLP by norms of order 1.
    private static readonly SimulationOptions Adaptive = new()
    {
        Rounds = 3, Clients = 8, Seed = 7, DpNoiseMultiplier = 1.0, DpAdaptiveQuantile = 0.5, DpCountNoise = 1.0, DpAdaptiveLearningRate = 0.5,
        Training = new TrainingOptions { Epochs = 1, BatchSize = 16, LearningRate = 0.05 },
    };

    private static double[] ClipPath(SimulationResult result) => result.Rounds.Select(r => r.Extra["clip_norm"]).ToArray();

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void C_moves_towards_the_quantile_from_above_and_from_below(bool secure, bool serverClip)
    {
        var options = Adaptive with { SecureAggregation = secure, Neighbours = secure ? 7 : null, DpServerSideClipping = serverClip };
        var high = ClipPath(new FederatedSimulation(options with { ClipNorm = 1000 }).Run());
        var low = ClipPath(new FederatedSimulation(options with { ClipNorm = 1e-4 }).Run());

        // Every norm under C₀ = 1000: each step shrinks C by about exp(−η(1 − γ)); every norm over 1e-4: it grows.
        Assert.True(high[^1] < 1000 * Math.Exp(-0.5 * 0.5 * 3 * 0.5), $"C path from 1000: {string.Join(", ", high)}");
        Assert.True(low[^1] > 1e-4 * Math.Exp(0.5 * 0.5 * 3 * 0.5), $"C path from 1e-4: {string.Join(", ", low)}");
    }

    [Fact]
    public void Under_secure_aggregation_the_count_is_the_same_as_in_the_clear_so_C_follows_the_same_path()
    {
        var clear = new FederatedSimulation(Adaptive with { ClipNorm = 0.5 }).Run();
        var secure = new FederatedSimulation(Adaptive with { ClipNorm = 0.5, SecureAggregation = true, Neighbours = 7 }).Run();
        var path = ClipPath(clear);
        Assert.Equal(path, ClipPath(secure));
        // C moved away from C₀ in every round, so the equality above compares real steps.
        Assert.All(path, c => Assert.NotEqual(0.5, c));
    }

    [Fact]
    public void The_ledger_charges_the_effective_noise_multiplier_and_the_update_noise_is_the_larger_one()
    {
        var adaptive = new FederatedSimulation(Adaptive with { ClipNorm = 0.5 }).Run();
        var fixedClip = new FederatedSimulation(Adaptive with { ClipNorm = 0.5, DpAdaptiveQuantile = null, DpCountNoise = null, DpAdaptiveLearningRate = null }).Run();
        // Same z charged per round, so the same ε after the same rounds (Andrew et al., Theorem 1) …
        Assert.Equal(fixedClip.Rounds[^1].Extra["epsilon"], adaptive.Rounds[^1].Extra["epsilon"], 12);
        // … and the update sum carries z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) > z to pay for the count.
        var options = DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(0.5, 0.5, 0.5, 1.0), 8, 8, ClippingPlacement.Client);
        Assert.Equal(1 / Math.Sqrt(1 - 0.25), options.UpdateNoiseMultiplier, 12);
        Assert.False(fixedClip.Rounds[^1].Extra.ContainsKey("clip_norm"));
    }

    [Theory]
    [InlineData("needs DP on", false)]
    [InlineData("not combined with --dp-mode distributed", true)]
    public void Adaptive_clipping_needs_central_dp(string expected, bool distributed)
    {
        var options = distributed
            ? Adaptive with { SecureAggregation = true, DpPlacement = DpPlacement.Distributed, DpNoiseMultiplier = null, DpEpsilon = 8 }
            : Adaptive with { DpNoiseMultiplier = null };
        var ex = Assert.Throws<ArgumentException>(() => new FederatedSimulation(options));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Bad_adaptive_settings_are_refused_with_the_reason()
    {
        Assert.Contains("apply to adaptive clipping only",
            Assert.Throws<ArgumentException>(() => new FederatedSimulation(Adaptive with { DpAdaptiveQuantile = null })).Message);
        Assert.Contains("--dp-server-clip needs central DP without secure aggregation",
            Assert.Throws<ArgumentException>(() => new FederatedSimulation(Adaptive with { DpServerSideClipping = true, SecureAggregation = true })).Message);
        Assert.Contains("adaptive clipping needs 2σ_b > z",
            Assert.Throws<ArgumentOutOfRangeException>(() => new FederatedSimulation(Adaptive with { DpCountNoise = 0.4 })).Message);
        Assert.Contains("target quantile",
            Assert.Throws<ArgumentOutOfRangeException>(() => new FederatedSimulation(Adaptive with { DpAdaptiveQuantile = 1.5 })).Message);
    }
}
