using Confide.Aggregation;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.Testing;
using Confide.Updates;

namespace Confide.Protocol.Tests.Rounds;

public sealed class RoundCoordinatorTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("w", [2, 2]), ("b", [2]));
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string[] ThreeClients = ["a", "b", "c"];

    private static RoundOptions Options(long rounds = 3, int count = 3, int minUpdates = 2, DpFedAvgOptions? dp = null) =>
        new(rounds, ClientSampling.OfCount(count), TimeSpan.FromSeconds(30), minUpdates, new AggregatorSettings("fedavg"), privacy: dp);

    private static ClientUpdate Update(string id, float value, long samples = 10) =>
        new(id, new ModelParameters(Layout, Enumerable.Repeat(value, Layout.TotalLength).ToArray()), samples);

    private static RoundCoordinator Create(FakeClock clock, RoundOptions? options = null, PrivacyLedger? ledger = null) =>
        new(options ?? Options(), ModelParameters.Zeros(Layout), 0, ledger, ledger is null ? null : new GaussianNoise(new SeededRandomSource(9)), new SeededRandomSource(1), clock);

    [Fact]
    public void Waits_until_enough_clients_are_connected_then_samples_the_configured_count()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock, Options(count: 2));
        Assert.Null(coordinator.TryStartRound(["a"]));
        Assert.Equal(RoundStage.WaitingForClients, coordinator.Stage);

        var ticket = coordinator.TryStartRound(["a", "b", "c", "d", "e"]);
        Assert.NotNull(ticket);
        Assert.Equal(2, ticket.Participants.Count);
        Assert.All(ticket.Participants, p => Assert.Contains(p, new[] { "a", "b", "c", "d", "e" }));
        Assert.Equal(Start + TimeSpan.FromSeconds(30), ticket.Deadline);
        Assert.Equal(RoundStage.Collecting, coordinator.Stage);
        Assert.Null(coordinator.TryStartRound(["a", "b"]));
    }

    [Fact]
    public void Sampling_is_uniform_over_connected_clients()
    {
        // 10 clients, 3 sampled per round, 3000 rounds: each count is Binomial(3000, 0.3), sd ≈ 25.1; allow 5 sd.
        var counts = new Dictionary<string, int>();
        var ids = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();
        var random = new SeededRandomSource(7);
        var clock = new FakeClock(Start);
        var options = new RoundOptions(3000, ClientSampling.OfCount(3), TimeSpan.FromSeconds(1), 1, new AggregatorSettings("fedavg"));
        var coordinator = new RoundCoordinator(options, ModelParameters.Zeros(Layout), 0, null, null, random, clock);
        for (int r = 0; r < 3000; r++)
        {
            var ticket = coordinator.TryStartRound(ids)!;
            foreach (var p in ticket.Participants)
            {
                counts[p] = counts.GetValueOrDefault(p) + 1;
                Assert.True(coordinator.Submit(r, Update(p, 0)).IsAccepted);
            }

            Assert.NotNull(coordinator.Poll());
        }

        Assert.Equal(10, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 900 - 126, 900 + 126));
    }

    [Fact]
    public void A_round_aggregates_weighted_by_sample_count_and_steps_the_model()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock);
        var ticket = coordinator.TryStartRound(ThreeClients)!;
        Assert.True(coordinator.Submit(0, Update("a", 1f, samples: 10)).IsAccepted);
        Assert.Null(coordinator.Poll());
        Assert.True(coordinator.Submit(0, Update("b", 4f, samples: 20)).IsAccepted);
        Assert.True(coordinator.Submit(0, Update("c", -2f, samples: 10)).IsAccepted);
        var result = coordinator.Poll();

        Assert.NotNull(result);
        Assert.True(result.Aggregated);
        Assert.Equal(ticket.Participants, result.Participants);
        Assert.Empty(result.Stragglers);
        Assert.Equal(["a", "b", "c"], result.Accepted.Select(a => a.ClientId));
        float expected = (10 * 1f + 20 * 4f + 10 * -2f) / 40f;
        Assert.All(result.Model.AsSpan().ToArray(), v => Assert.Equal(expected, v, 5));
        Assert.Equal(1, coordinator.Round);
        Assert.Equal(RoundStage.WaitingForClients, coordinator.Stage);
    }

    [Fact]
    public void Bad_submissions_are_refused_with_reasons_and_invalid_ones_recorded()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock, Options(count: 3));
        Assert.Equal(SubmissionStatus.WrongRound, coordinator.Submit(0, Update("a", 1)).Status);
        coordinator.TryStartRound(["a", "b", "c", "d"]);
        var outsider = new[] { "a", "b", "c", "d" }.First(id => !coordinator.IsParticipant(id));
        var inside = coordinator.Current!.Participants;

        Assert.Equal(SubmissionStatus.WrongRound, coordinator.Submit(1, Update(inside[0], 1)).Status);
        Assert.Equal(SubmissionStatus.NotSelected, coordinator.Submit(0, Update(outsider, 1)).Status);

        var nan = Update(inside[0], 1);
        nan.Delta.AsSpan()[3] = float.NaN;
        var invalid = coordinator.Submit(0, nan);
        Assert.Equal(SubmissionStatus.Invalid, invalid.Status);
        Assert.Contains("NaN", invalid.Reason);
        Assert.Equal(SubmissionStatus.AlreadySubmitted, coordinator.Submit(0, Update(inside[0], 1)).Status);

        var wrongLayout = new ClientUpdate(inside[1], ModelParameters.Zeros(ParameterLayout.Create(("w", [4]))), 5);
        Assert.Equal(SubmissionStatus.Invalid, coordinator.Submit(0, wrongLayout).Status);

        Assert.Equal(SubmissionStatus.Invalid, coordinator.Submit(0, Update(inside[2], 1, samples: 0)).Status);

        var result = coordinator.Poll()!;
        Assert.False(result.Aggregated);
        Assert.Equal(3, result.Rejected.Count);
        Assert.Contains("layout", result.Rejected[1].Reason);
        Assert.Contains("sample count", result.Rejected[2].Reason);
        Assert.All(result.Model.AsSpan().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Stragglers_are_recorded_and_the_round_completes_at_the_deadline()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock);
        coordinator.TryStartRound(ThreeClients);
        Assert.True(coordinator.Submit(0, Update("a", 2)).IsAccepted);
        Assert.True(coordinator.Submit(0, Update("c", 4)).IsAccepted);
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Null(coordinator.Poll());
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(SubmissionStatus.TooLate, coordinator.Submit(0, Update("b", 1)).Status);

        var result = coordinator.Poll()!;
        Assert.True(result.Aggregated);
        Assert.Equal(["b"], result.Stragglers);
        Assert.All(result.Model.AsSpan().ToArray(), v => Assert.Equal(3f, v));
        Assert.Equal(Start + TimeSpan.FromSeconds(31), result.CompletedAt);
    }

    [Fact]
    public void Too_few_updates_fail_the_round_and_leave_the_model_unchanged()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock);
        coordinator.TryStartRound(ThreeClients);
        Assert.True(coordinator.Submit(0, Update("a", 2)).IsAccepted);
        clock.Advance(TimeSpan.FromMinutes(1));
        var result = coordinator.Poll()!;
        Assert.False(result.Aggregated);
        Assert.Contains("only 1 of the 2", result.FailureReason);
        Assert.Equal(["b", "c"], result.Stragglers);
        Assert.All(coordinator.GlobalModel.AsSpan().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Stops_after_the_configured_rounds()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock, Options(rounds: 2));
        for (int r = 0; r < 2; r++)
        {
            Assert.Null(coordinator.StopReason);
            coordinator.TryStartRound(ThreeClients);
            foreach (var id in ThreeClients)
            {
                coordinator.Submit(r, Update(id, 1));
            }

            Assert.NotNull(coordinator.Poll());
        }

        Assert.Equal(RoundStage.Finished, coordinator.Stage);
        Assert.Equal(StopReason.RoundsCompleted, coordinator.StopReason);
        Assert.Null(coordinator.TryStartRound(ThreeClients));
    }

    [Fact]
    public void Stops_before_a_round_that_would_exceed_the_privacy_budget()
    {
        var clock = new FakeClock(Start);
        // q = 1 (3 of 3 clients), z = 3: each round costs RDP α/18; the probe ledger finds how many rounds fit in ε = 4 at δ = 1e-5.
        var dp = DpFedAvgOptions.Fixed(noiseMultiplier: 3.0, clipNorm: 1.0, expectedClientsPerRound: 3, population: 3, ClippingPlacement.Server);
        var budget = new PrivacyBudget(4.0, 1e-5);
        var probe = new PrivacyLedger(budget);
        int fits = 0;
        while (probe.TryCharge([new PrivacyRelease(fits, "dp-fedavg", 1.0, 3.0)], out _))
        {
            fits++;
        }

        Assert.InRange(fits, 2, 200);
        var ledger = new PrivacyLedger(budget);
        var coordinator = Create(clock, Options(rounds: 1000, dp: dp), ledger);
        int completed = 0;
        while (coordinator.Stage != RoundStage.Finished)
        {
            coordinator.TryStartRound(ThreeClients);
            foreach (var id in ThreeClients)
            {
                Assert.True(coordinator.Submit(completed, Update(id, 0.1f)).IsAccepted);
            }

            var result = coordinator.Poll()!;
            Assert.True(result.Aggregated);
            Assert.NotNull(result.Privacy);
            Assert.True(result.Privacy.Value.Epsilon <= budget.MaxEpsilon);
            completed++;
        }

        Assert.Equal(StopReason.PrivacyBudgetExhausted, coordinator.StopReason);
        Assert.Equal(fits, completed);
        Assert.Equal(fits, ledger.Releases.Count);
    }

    [Fact]
    public void A_restored_round_keeps_its_accepted_updates_and_deadline()
    {
        var clock = new FakeClock(Start);
        var first = Create(clock);
        var ticket = first.TryStartRound(ThreeClients)!;
        Assert.True(first.Submit(0, Update("a", 2)).IsAccepted);

        var restored = Create(clock);
        restored.Restore(ticket, [Update("a", 2)], []);
        Assert.Equal(SubmissionStatus.AlreadySubmitted, restored.Submit(0, Update("a", 5)).Status);
        Assert.True(restored.Submit(0, Update("b", 4)).IsAccepted);
        clock.Advance(TimeSpan.FromSeconds(31));
        var result = restored.Poll()!;
        Assert.Equal(["a", "b"], result.Accepted.Select(a => a.ClientId));
        Assert.Equal(["c"], result.Stragglers);
        Assert.All(result.Model.AsSpan().ToArray(), v => Assert.Equal(3f, v));
    }

    [Fact]
    public void Options_refuse_a_minimum_below_what_the_aggregator_needs()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new RoundOptions(1, ClientSampling.OfFraction(1.0, 3), TimeSpan.FromSeconds(1), 3, new AggregatorSettings("krum", Byzantine: 1)));
        Assert.Contains("needs at least 5", ex.Message);
        Assert.Throws<ArgumentException>(() => new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(1), 3, new AggregatorSettings("fedavg")));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClientSampling.OfFraction(0, 1));
        Assert.Equal(3, ClientSampling.OfFraction(0.25, 2).SampleSize(10));
        Assert.Equal(2, ClientSampling.OfFraction(0.1, 2).SampleSize(10));
        Assert.Equal(0, ClientSampling.OfFraction(0.1, 2).SampleSize(1));
    }

    [Fact]
    public void Undecodable_submissions_are_recorded_as_rejections_and_count_as_the_clients_answer()
    {
        var clock = new FakeClock(Start);
        var coordinator = Create(clock);
        Assert.Equal(SubmissionStatus.WrongRound, coordinator.CheckPlace(0, "a")!.Status);
        coordinator.TryStartRound(ThreeClients);
        Assert.Null(coordinator.CheckPlace(0, "a"));
        Assert.Equal(SubmissionStatus.NotSelected, coordinator.RecordRejection(0, "z", "garbage").Status);

        var rejected = coordinator.RecordRejection(0, "a", "the payload is not valid safetensors");
        Assert.Equal(SubmissionStatus.Invalid, rejected.Status);
        Assert.Equal(SubmissionStatus.AlreadySubmitted, coordinator.CheckPlace(0, "a")!.Status);
        Assert.True(coordinator.Submit(0, Update("b", 1)).IsAccepted);
        Assert.True(coordinator.Submit(0, Update("c", 3)).IsAccepted);

        var result = coordinator.Poll()!;
        Assert.True(result.Aggregated);
        var only = Assert.Single(result.Rejected);
        Assert.Equal("a", only.ClientId);
        Assert.Contains("safetensors", only.Reason);
        Assert.Empty(result.Stragglers);
    }

    [Theory]
    [InlineData("fedavg", false, false)]
    [InlineData("fedavg", true, false)]
    [InlineData("median", false, true)]
    public void FedAvg_and_DP_FedAvg_sum_each_update_as_it_is_accepted_so_its_array_can_be_reused_at_once(string method, bool dp, bool retains)
    {
        var clock = new FakeClock(Start);
        var options = new RoundOptions(
            1,
            ClientSampling.OfCount(3),
            TimeSpan.FromSeconds(30),
            2,
            new AggregatorSettings(method),
            privacy: dp ? DpFedAvgOptions.Fixed(1.0, 10, 3, 3, ClippingPlacement.Server) : null);
        var ledger = dp ? new PrivacyLedger(new PrivacyBudget(1000, 1e-5)) : null;
        var coordinator = Create(clock, options, ledger);
        var reference = Create(new FakeClock(Start), options, dp ? new PrivacyLedger(new PrivacyBudget(1000, 1e-5)) : null);
        Assert.Equal(retains, coordinator.RetainsUpdates);
        coordinator.TryStartRound(ThreeClients);
        reference.TryStartRound(ThreeClients);

        foreach (var (id, value) in new[] { ("a", 1f), ("b", 4f), ("c", -2f) })
        {
            var update = Update(id, value);
            Assert.True(coordinator.Submit(0, update).IsAccepted);
            Assert.True(reference.Submit(0, Update(id, value)).IsAccepted);
            if (!coordinator.RetainsUpdates)
            {
                // What a server does with a pooled array once its update is in the sum: the next upload overwrites it.
                update.Delta.AsSpan().Fill(1e6f);
            }
        }

        var expected = reference.Poll()!.Model.AsSpan().ToArray();
        Assert.Equal(expected, coordinator.Poll()!.Model.AsSpan().ToArray());
        Assert.All(expected, v => Assert.InRange(v, -30f, 30f)); // a mean of 1 (plus noise of σ = 10/3 under DP), not 1e6
    }
}
