using Confide.Aggregation;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.Testing;

namespace Confide.Protocol.Tests.Rounds;

public sealed class SecureRoundCompletionTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("w", [3]));
    private static readonly string[] Clients = ["a", "b", "c"];

    private static RoundOptions Options(DpFedAvgOptions? dp = null, int minUpdates = 2) =>
        new(5, ClientSampling.OfCount(3), TimeSpan.FromSeconds(30), minUpdates, new AggregatorSettings("fedavg"), privacy: dp);

    [Fact]
    public void Without_dp_the_model_moves_by_the_weighted_mean_and_dropouts_are_stragglers()
    {
        var coordinator = new RoundCoordinator(Options(), ModelParameters.Zeros(Layout), 0, null, null, new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        var ticket = coordinator.TryStartRound(Clients)!;
        var outcome = new SecureRoundOutcome(["a", "c"], [3.0, -6.0, 0.5], 4, [("b", "secure aggregation: sent nothing for stage MaskedInputCollection")], null);
        var result = coordinator.CompleteSecure(ticket.Round, outcome);
        Assert.True(result.Aggregated);
        Assert.Equal([0.75f, -1.5f, 0.125f], result.Model.AsSpan().ToArray());
        Assert.Equal(["b"], result.Stragglers);
        Assert.Equal([("a", 0L), ("c", 0L)], result.Accepted);
        Assert.Equal("b", Assert.Single(result.Flagged).ClientId);
        Assert.Equal(RoundStage.WaitingForClients, coordinator.Stage);
        Assert.Equal(1, coordinator.Round);
    }

    [Fact]
    public void An_aborted_protocol_fails_the_round_without_moving_the_model_or_charging_the_ledger()
    {
        var dp = DpFedAvgOptions.Fixed(1.0, 0.5, 3, 30, ClippingPlacement.Client);
        var ledger = new PrivacyLedger(new PrivacyBudget(50, 1e-5));
        var coordinator = new RoundCoordinator(Options(dp), ModelParameters.Zeros(Layout), 0, ledger, new GaussianNoise(new SeededRandomSource(2)), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome([], null, 0, [], "secure aggregation aborted in stage ShareKeys: 1 of 3 …"));
        Assert.False(result.Aggregated);
        Assert.StartsWith("secure aggregation aborted in stage ShareKeys", result.FailureReason, StringComparison.Ordinal);
        Assert.Equal(new float[3], result.Model.AsSpan().ToArray());
        Assert.Empty(ledger.Releases);
    }

    [Fact]
    public void With_dp_the_ledger_is_charged_and_seeded_noise_goes_on_the_sum_once_before_dividing_by_m()
    {
        var dp = DpFedAvgOptions.Fixed(1.0, 0.5, 3, 30, ClippingPlacement.Client);
        var ledger = new PrivacyLedger(new PrivacyBudget(50, 1e-5));
        var coordinator = new RoundCoordinator(Options(dp), ModelParameters.Zeros(Layout), 0, ledger, new GaussianNoise(new SeededRandomSource(2)), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(Clients, [0.3, 0.6, -0.9], 3, [], null));

        var expected = new float[] { 0.3f, 0.6f, -0.9f };
        new GaussianMechanism(1.0, 0.5).AddNoise(expected, new GaussianNoise(new SeededRandomSource(2)));
        System.Numerics.Tensors.TensorPrimitives.Multiply(expected, 1f / 3, expected);
        Assert.Equal(expected, result.Model.AsSpan().ToArray());
        var release = Assert.Single(ledger.Releases);
        Assert.Equal("dp-fedavg+secagg", release.Mechanism);
        Assert.Equal(ledger.Spent, result.Privacy);
    }

    [Fact]
    public void Bad_outcomes_are_refused_with_a_reason()
    {
        var coordinator = new RoundCoordinator(Options(), ModelParameters.Zeros(Layout), 0, null, null, new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        Assert.Throws<InvalidOperationException>(() => coordinator.CompleteSecure(0, new SecureRoundOutcome([], null, 0, [], "x")));
        var ticket = coordinator.TryStartRound(Clients)!;
        var wrongLength = Assert.Throws<ArgumentException>(() => coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(Clients, [1.0], 3, [], null)));
        Assert.Contains("1 values", wrongLength.Message, StringComparison.Ordinal);
        var stranger = Assert.Throws<ArgumentException>(() => coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(["zed"], [1.0, 1, 1], 3, [], null)));
        Assert.Contains("zed", stranger.Message, StringComparison.Ordinal);
        var tooFew = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(["a"], [1.0, 1, 1], 3, [], null));
        Assert.False(tooFew.Aggregated);
        Assert.Contains("only 1 of the 2", tooFew.FailureReason, StringComparison.Ordinal);
    }
}
