using Confide.Aggregation;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.Testing;
using Confide.Updates;

namespace Confide.Protocol.Tests.Rounds;

/// <summary>
/// Adaptive clipping (Andrew et al. 2021) with client-side clipping in the round protocol: each update carries its
/// client's bit bᵢ = 1[‖Δᵢ‖ ≤ C], or (secure aggregation) only Σ bᵢ reaches the coordinator.
/// </summary>
public sealed class ClientSideAdaptiveClippingTests
{
    private const double C0 = 1.0;
    private const double Eta = 0.2;
    private const double Gamma = 0.5;
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("w", [2]));
    private static readonly string[] Clients = ["a", "b", "c", "d"];

    private static DpFedAvgOptions Dp(ClippingPlacement placement = ClippingPlacement.Client) =>
        DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(C0, Gamma, Eta, 2.0), Clients.Length, 40, placement);

    private static RoundCoordinator Coordinator(DpFedAvgOptions? dp, IGaussianNoise noise, PrivacyLedger? ledger = null) =>
        new(new RoundOptions(5, ClientSampling.OfCount(Clients.Length), TimeSpan.FromSeconds(30), 2, new AggregatorSettings("fedavg"), privacy: dp),
            ModelParameters.Zeros(Layout), 0, dp is null ? null : ledger ?? new PrivacyLedger(new PrivacyBudget(100, 1e-5)), dp is null ? null : noise, new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));

    private static ClientUpdate Update(string id, float x) => new(id, new ModelParameters(Layout, [x, 0f]), 1);

    [Fact]
    public void The_coordinator_asks_clients_for_the_indicator_only_with_client_side_adaptive_clipping()
    {
        Assert.True(Coordinator(Dp(), new ZeroGaussianNoise()).RequiresClipIndicator);
        Assert.False(Coordinator(Dp(ClippingPlacement.Server), new ZeroGaussianNoise()).RequiresClipIndicator);
        Assert.False(Coordinator(DpFedAvgOptions.Fixed(1.0, 1.0, 4, 40, ClippingPlacement.Client), new ZeroGaussianNoise()).RequiresClipIndicator);
        Assert.Equal(C0, Coordinator(Dp(), new ZeroGaussianNoise()).ClientClipNorm);
    }

    [Fact]
    public void An_update_without_its_indicator_is_rejected_and_the_reason_recorded()
    {
        var coordinator = Coordinator(Dp(), new ZeroGaussianNoise());
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.Submit(ticket.Round, Update("a", 0.5f));
        Assert.Equal(SubmissionStatus.Invalid, result.Status);
        Assert.Contains("no clip indicator", result.Reason);
        Assert.True(coordinator.HasSubmitted("a"));
        Assert.Equal(0, coordinator.AcceptedCount);

        foreach (var id in Clients[1..])
        {
            Assert.True(coordinator.Submit(ticket.Round, Update(id, 0.5f), 1).IsAccepted);
        }

        var round = coordinator.Poll()!;
        var rejected = Assert.Single(round.Rejected);
        Assert.Equal("a", rejected.ClientId);
        Assert.Contains("no clip indicator", rejected.Reason);
    }

    [Theory]
    [InlineData(2L)]
    [InlineData(-1L)]
    [InlineData(255L)]
    [InlineData(long.MaxValue)]
    public void An_indicator_other_than_0_or_1_is_rejected_with_its_value(long bad)
    {
        var coordinator = Coordinator(Dp(), new ZeroGaussianNoise());
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.Submit(ticket.Round, Update("b", 0.5f), bad);
        Assert.Equal(SubmissionStatus.Invalid, result.Status);
        Assert.Contains($"the clip indicator is {bad}", result.Reason);

        // Without adaptive clipping the bit is not needed, but a malformed one is still refused.
        var plain = Coordinator(DpFedAvgOptions.Fixed(1.0, 1.0, 4, 40, ClippingPlacement.Client), new ZeroGaussianNoise());
        var t = plain.TryStartRound(Clients)!;
        Assert.Equal(SubmissionStatus.Invalid, plain.Submit(t.Round, Update("b", 0.5f), bad).Status);
        Assert.True(plain.Submit(t.Round, Update("c", 0.5f), 0).IsAccepted);
        Assert.True(plain.Submit(t.Round, Update("d", 0.5f)).IsAccepted);
    }

    [Theory]
    [InlineData(4)] // every norm under C: b̄ = 1 > γ, C shrinks
    [InlineData(1)] // b̄ = 1/4 < γ, C grows
    [InlineData(2)] // b̄ = γ: C stays
    public void Without_count_noise_C_takes_the_papers_geometric_step_from_the_reported_bits(int under)
    {
        var coordinator = Coordinator(Dp(), new ZeroGaussianNoise());
        var ticket = coordinator.TryStartRound(Clients)!;
        for (int i = 0; i < Clients.Length; i++)
        {
            // The bits are the clients' claims; the deltas are already clipped, so the server cannot check them.
            Assert.True(coordinator.Submit(ticket.Round, Update(Clients[i], 0.5f), i < under ? 1 : 0).IsAccepted);
        }

        Assert.True(coordinator.Poll()!.Aggregated);
        double expected = C0 * Math.Exp(-Eta * (((double)under / Clients.Length) - Gamma));
        Assert.Equal(expected, coordinator.ClientClipNorm!.Value, 12);
        Assert.Equal(expected, coordinator.ExportServerState().ClipNorm);
    }

    [Fact]
    public void A_plain_round_gives_the_same_model_and_C_as_DpFedAvg_given_the_same_bits_and_noise_stream()
    {
        bool[] bits = [true, false, true, true];
        var coordinator = Coordinator(Dp(), new GaussianNoise(new SeededRandomSource(9)));
        var ticket = coordinator.TryStartRound(Clients)!;
        for (int i = 0; i < Clients.Length; i++)
        {
            Assert.True(coordinator.Submit(ticket.Round, Update(Clients[i], 0.2f * (i + 1)), bits[i] ? 1 : 0).IsAccepted);
        }

        var result = coordinator.Poll()!;
        var reference = new DpFedAvg(Dp(), new GaussianNoise(new SeededRandomSource(9)), new PrivacyLedger(new PrivacyBudget(100, 1e-5)));
        var round = reference.AggregateRound(0, Clients.Select((_, i) => (ReadOnlyMemory<float>)new float[] { 0.2f * (i + 1), 0f }).ToArray(), bits);
        Assert.Equal(round.Result.Aggregate, result.Model.AsSpan().ToArray());
        Assert.Equal(reference.CurrentClipNorm, coordinator.ClientClipNorm);
        Assert.NotEqual(C0, coordinator.ClientClipNorm);
        Assert.Equal("dp-fedavg+adaptive-clipping", result.Privacy is null ? null : reference.Ledger.Releases[0].Mechanism);
    }

    [Fact]
    public void A_restored_round_keeps_the_indicators_and_ends_with_the_same_C()
    {
        double Run(bool restart)
        {
            var clock = new FakeClock(DateTimeOffset.UnixEpoch);
            var ledger = new PrivacyLedger(new PrivacyBudget(100, 1e-5));
            var options = new RoundOptions(5, ClientSampling.OfCount(4), TimeSpan.FromSeconds(30), 2, new AggregatorSettings("fedavg"), privacy: Dp());
            var coordinator = new RoundCoordinator(options, ModelParameters.Zeros(Layout), 0, ledger, new ZeroGaussianNoise(), new SeededRandomSource(1), clock);
            var ticket = coordinator.TryStartRound(Clients)!;
            var accepted = new List<ClientUpdate>();
            var bits = new Dictionary<string, long>();
            for (int i = 0; i < 3; i++)
            {
                var u = Update(Clients[i], 0.5f);
                Assert.True(coordinator.Submit(ticket.Round, u, 1).IsAccepted);
                accepted.Add(u);
                bits[u.ClientId] = 1;
            }

            if (restart)
            {
                coordinator = new RoundCoordinator(options, ModelParameters.Zeros(Layout), 0, ledger, new ZeroGaussianNoise(), new SeededRandomSource(1), clock);
                coordinator.Restore(ticket, accepted, [], bits);
            }

            Assert.True(coordinator.Submit(ticket.Round, Update(Clients[3], 0.5f), 0).IsAccepted);
            Assert.True(coordinator.Poll()!.Aggregated);
            return coordinator.ClientClipNorm!.Value;
        }

        Assert.Equal(C0 * Math.Exp(-Eta * (0.75 - Gamma)), Run(restart: false), 12);
        Assert.Equal(Run(restart: false), Run(restart: true));

        // A persisted update whose bit was lost no longer passes: the restore refuses rather than guess.
        var options = new RoundOptions(5, ClientSampling.OfCount(4), TimeSpan.FromSeconds(30), 2, new AggregatorSettings("fedavg"), privacy: Dp());
        var fresh = new RoundCoordinator(options, ModelParameters.Zeros(Layout), 0, new PrivacyLedger(new PrivacyBudget(100, 1e-5)), new ZeroGaussianNoise(), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        var ticket = new RoundTicket(0, Clients, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(30));
        var ex = Assert.Throws<InvalidOperationException>(() => fresh.Restore(ticket, [Update("a", 0.5f)], []));
        Assert.Contains("no clip indicator", ex.Message);
    }

    [Fact]
    public void A_secure_round_moves_C_from_the_indicator_sum_and_never_sees_a_bit()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(100, 1e-5));
        var coordinator = Coordinator(Dp(), new ZeroGaussianNoise(), ledger);
        var ticket = coordinator.TryStartRound(Clients)!;
        var outcome = new SecureRoundOutcome(Clients, [0.4, -0.2], 4, [], null) { ClipIndicatorSum = 3 };
        var result = coordinator.CompleteSecure(ticket.Round, outcome);
        Assert.True(result.Aggregated);
        Assert.Equal([0.1f, -0.05f], result.Model.AsSpan().ToArray());
        Assert.Equal(C0 * Math.Exp(-Eta * (0.75 - Gamma)), coordinator.ClientClipNorm!.Value, 12);
        Assert.Equal("dp-fedavg+secagg", Assert.Single(ledger.Releases).Mechanism);
        Assert.Empty(result.Flagged);
    }

    [Fact]
    public void A_secure_outcome_without_the_count_is_refused_and_a_count_out_of_range_is_clamped_and_flagged()
    {
        var coordinator = Coordinator(Dp(), new ZeroGaussianNoise());
        var ticket = coordinator.TryStartRound(Clients)!;
        var ex = Assert.Throws<ArgumentException>(() => coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(Clients, [0.4, -0.2], 4, [], null)));
        Assert.Contains("clip-indicator count", ex.Message);

        // A client that put 1000 in its indicator coordinate: the count is clamped to n, as if every bit were 1.
        var result = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(Clients, [0.4, -0.2], 4, [], null) { ClipIndicatorSum = 1003 });
        Assert.True(result.Aggregated);
        Assert.Contains(result.Flagged, f => f.ClientId == "secure-sum" && f.Reason.Contains("1003", StringComparison.Ordinal));
        Assert.Equal(C0 * Math.Exp(-Eta * (1 - Gamma)), coordinator.ClientClipNorm!.Value, 12);

        var next = coordinator.TryStartRound(Clients)!;
        coordinator.CompleteSecure(next.Round, new SecureRoundOutcome(Clients, [0.4, -0.2], 4, [], null) { ClipIndicatorSum = -7 });
        Assert.Equal(C0 * Math.Exp(-Eta * (1 - Gamma)) * Math.Exp(-Eta * (0 - Gamma)), coordinator.ClientClipNorm!.Value, 12);
    }

    [Fact]
    public void A_failed_secure_round_leaves_C_alone()
    {
        var coordinator = Coordinator(Dp(), new ZeroGaussianNoise());
        var ticket = coordinator.TryStartRound(Clients)!;
        var result = coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome([], null, 0, [], "aborted"));
        Assert.False(result.Aggregated);
        Assert.Equal(C0, coordinator.ClientClipNorm);
    }

    /// <summary>Adds nothing, so the clip-norm step is a known answer. Tests only; it provides no privacy.</summary>
    private sealed class ZeroGaussianNoise : IGaussianNoise
    {
        public void AddTo(Span<float> values, double standardDeviation)
        {
        }

        public void Fill(Span<double> destination, double standardDeviation) => destination.Clear();
    }
}
