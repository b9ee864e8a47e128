using Confide.Aggregation;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.Testing;

namespace Confide.Protocol.Tests.Rounds;

/// <summary>The coordinator under distributed DP (Kairouz, Liu, Steinke 2021): no server noise, the plan's charge, n_min enforced.</summary>
public sealed class DistributedDpRoundTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("w", [3]));
    private static readonly string[] Clients = ["a", "b", "c", "d"];
    private static readonly DistributedDpPlan Plan = DistributedDpPlan.ForNoiseMultiplier(0.5, 4, 3, 3, 32, 0, 1.0);

    private static RoundOptions Options(long rounds = 5, int minUpdates = 2, DistributedDpPlan? plan = null) =>
        new(rounds, ClientSampling.OfCount(4), TimeSpan.FromSeconds(30), minUpdates, new AggregatorSettings("fedavg"),
            privacy: DpFedAvgOptions.Fixed((plan ?? Plan).EffectiveNoiseMultiplier, 0.5, 4, 40, ClippingPlacement.Client))
        {
            DistributedPrivacy = plan ?? Plan,
        };

    private static RoundCoordinator Coordinator(RoundOptions options, PrivacyLedger ledger) =>
        new(options, ModelParameters.Zeros(Layout), 0, ledger, new GaussianNoise(new SeededRandomSource(2)), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));

    [Fact]
    public void A_released_round_adds_no_server_noise_and_is_charged_the_plans_entry()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(1000, 1e-5));
        var coordinator = Coordinator(Options(), ledger);
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(Clients, [0.4, 0.8, -1.2], 4, [], null));

        Assert.True(result.Aggregated);
        Assert.Equal([0.1f, 0.2f, -0.3f], result.Model.AsSpan().ToArray()); // the noisy sum / m, nothing added
        var release = Assert.Single(ledger.Releases);
        Assert.Equal(DistributedDpPlan.MechanismName, release.Mechanism);
        Assert.Equal(3, release.Distributed!.NoiseShares); // 4 survivors, credited with n_min = 3
        Assert.Equal(0.1, release.Distributed.SampleRate, 12);
        Assert.Equal(DistributedDiscreteGaussian.GetPrivacySpent([Plan.Release(4, 0.1)], 1e-5).Epsilon, result.Privacy!.Value.Epsilon, 12);
    }

    [Fact]
    public void Fewer_survivors_than_n_min_fail_the_round_and_charge_nothing()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(1000, 1e-5));
        var coordinator = Coordinator(Options(), ledger);
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(["a", "b"], [0.4, 0.8, -1.2], 2, [], null));

        Assert.False(result.Aggregated);
        Assert.Contains("fewer than the 3 the distributed DP noise is calibrated for", result.FailureReason, StringComparison.Ordinal);
        Assert.Equal(new float[3], result.Model.AsSpan().ToArray());
        Assert.Empty(ledger.Releases);
        Assert.Equal(0, result.Privacy!.Value.Epsilon);
    }

    [Fact]
    public void The_run_stops_before_a_round_that_would_pass_the_budget()
    {
        double twoRounds = DistributedDiscreteGaussian.GetPrivacySpent([Plan.Release(3, 0.1), Plan.Release(3, 0.1)], 1e-5).Epsilon;
        var ledger = new PrivacyLedger(new PrivacyBudget(twoRounds * 1.0001, 1e-5));
        var coordinator = Coordinator(Options(), ledger);
        for (int r = 0; r < 2; r++)
        {
            var ticket = coordinator.TryStartRound(Clients)!;
            Assert.True(coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(Clients, [0.1, 0.1, 0.1], 4, [], null)).Aggregated);
        }

        Assert.Equal(RoundStage.Finished, coordinator.Stage);
        Assert.Equal(StopReason.PrivacyBudgetExhausted, coordinator.StopReason);
        Assert.Equal(2, ledger.Releases.Count);
    }

    [Fact]
    public void Options_that_do_not_match_the_plan_are_refused()
    {
        var central = DpFedAvgOptions.Fixed(1, 0.5, 4, 40, ClippingPlacement.Client);
        RoundOptions Build(DpFedAvgOptions? dp, ClientSampling sampling) =>
            new(5, sampling, TimeSpan.FromSeconds(30), 2, new AggregatorSettings("fedavg"), privacy: dp) { DistributedPrivacy = Plan };

        Assert.Contains("DP-FedAvg settings too", Assert.Throws<ArgumentException>(() => Build(null, ClientSampling.OfCount(4))).Message, StringComparison.Ordinal);
        Assert.Contains("client-side clipping", Assert.Throws<ArgumentException>(() => Build(DpFedAvgOptions.Fixed(1, 0.5, 4, 40, ClippingPlacement.Server), ClientSampling.OfCount(4))).Message, StringComparison.Ordinal);
        Assert.Contains("must agree", Assert.Throws<ArgumentException>(() => Build(DpFedAvgOptions.Fixed(1, 0.7, 4, 40, ClippingPlacement.Client), ClientSampling.OfCount(4))).Message, StringComparison.Ordinal);
        Assert.Contains("fixed clients-per-round", Assert.Throws<ArgumentException>(() => Build(central, ClientSampling.OfCount(5))).Message, StringComparison.Ordinal);
        Assert.Contains("fixed clients-per-round", Assert.Throws<ArgumentException>(() => Build(central, ClientSampling.OfFraction(0.5, 2))).Message, StringComparison.Ordinal);
    }
}
