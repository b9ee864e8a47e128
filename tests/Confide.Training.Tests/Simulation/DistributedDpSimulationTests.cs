using Confide.Privacy;
using Confide.Training.Simulation;

namespace Confide.Training.Tests.Simulation;

public sealed class DistributedDpSimulationTests
{
    private static readonly SimulationOptions Distributed = new()
    {
        Rounds = 3, Clients = 20, Seed = 5, SecureAggregation = true, Neighbours = 6, DpPlacement = DpPlacement.Distributed, DpEpsilon = 8,
    };

    [Fact]
    public void EveryRoundIsChargedWithinTheTargetLearnsAndRepeatsForASeed()
    {
        var first = new FederatedSimulation(Distributed).Run();
        var settings = first.Privacy!.Distributed!;
        Assert.Equal("distributed-dp-fedavg", first.AggregatorName);
        Assert.Equal(DpPlacement.Distributed, first.Privacy.Placement);
        Assert.Equal(20, settings.MinimumSurvivors);

        // Full participation and σ of ~10⁶ quanta make τ vanish: each round's ε is the continuous Gaussian's at the
        // effective multiplier √n·σ/Δ₂, composed over the rounds so far.
        var eps = first.Rounds.Select(r => r.Extra["epsilon"]).ToArray();
        for (int t = 0; t < eps.Length; t++)
        {
            Assert.Equal(20, first.Rounds[t].Extra["noise_shares"]);
            Assert.Equal(RdpAccountant.GetPrivacySpent(1, first.Privacy.NoiseMultiplier, t + 1, 1e-5).Epsilon, eps[t], 6);
        }

        Assert.All(eps.Zip(eps.Skip(1)), p => Assert.True(p.Second > p.First));
        Assert.InRange(eps[^1], 7.9, 8.0 + 1e-6);
        Assert.True(first.FinalAccuracy > 0.3, $"final accuracy {first.FinalAccuracy} is not clearly above chance (0.1)");

        var second = new FederatedSimulation(Distributed).Run();
        Assert.Equal(first.Rounds.Select(r => r.Accuracy), second.Rounds.Select(r => r.Accuracy));
        Assert.Equal(first.Rounds.Select(r => r.Loss), second.Rounds.Select(r => r.Loss));
        Assert.Equal(eps, second.Rounds.Select(r => r.Extra["epsilon"]));
    }

    [Fact]
    public void WithLittleNoiseTheDecodedSumTrainsTheModel()
    {
        // z = 0.05 leaves the noisy, quantized sum close to the clipped sum: a wrong scale or sign would not learn.
        var options = Distributed with { Clients = 6, Rounds = 6, DpEpsilon = null, DpNoiseMultiplier = 0.05, ClipNorm = 5, Neighbours = null };
        var result = new FederatedSimulation(options).Run();
        Assert.True(result.FinalAccuracy > 0.5, $"final accuracy {result.FinalAccuracy}");
        Assert.Equal(0.05, result.Privacy!.NoiseMultiplier, 4);
    }

    [Fact]
    public void FewerSurvivorsThanCalibratedAreChargedForTheirCountAndTheBudgetHolds()
    {
        // Poisson sampling at q = 0.5 over 10 clients rarely gives the 8 survivors the noise is calibrated for.
        var options = Distributed with { Clients = 10, Fraction = 0.5, Rounds = 4, DpEpsilon = 3, DpMinimumSurvivors = 8, Neighbours = null };
        var result = new FederatedSimulation(options).Run();
        foreach (var r in result.Rounds)
        {
            if (r.Extra.TryGetValue("noise_shares", out double shares))
            {
                Assert.Equal(Math.Min(r.Participants.Count, 8), shares);
            }

            Assert.True(r.Extra["epsilon"] <= 3.0 + 1e-6, $"round {r.Round}: ε {r.Extra["epsilon"]}");
        }

        Assert.Contains(result.Rounds, r => r.Extra.TryGetValue("noise_shares", out double s) && s < 8);
        Assert.Contains(result.Rounds, r => r.Flagged.Any(f => f.Reason.StartsWith("round refused", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("no-secagg", "needs --secure-agg")]
    [InlineData("no-dp", "needs DP on")]
    [InlineData("too-many", "--dp-min-survivors 30 is out of range")]
    [InlineData("one", "--dp-min-survivors 1 is out of range")]
    [InlineData("central", "applies to --dp-mode distributed only")]
    public void BadCombinationsAreRefusedBeforeTraining(string what, string expected)
    {
        var options = what switch
        {
            "no-secagg" => Distributed with { SecureAggregation = false },
            "no-dp" => Distributed with { DpEpsilon = null },
            "too-many" => Distributed with { DpMinimumSurvivors = 30 },
            "central" => Distributed with { DpPlacement = DpPlacement.Central, DpMinimumSurvivors = 10 },
            _ => Distributed with { DpMinimumSurvivors = 1 },
        };
        var ex = Assert.Throws<ArgumentException>(() => new FederatedSimulation(options));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Distributed with { DpRoundingBeta = 1 });
    }
}
