using Confide.Aggregation;
using Confide.Client;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Confide.Updates;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>
/// Adaptive clipping (Andrew et al. 2021) with client-side clipping between a real server and real clients on
/// 127.0.0.1: the clip indicator travels in the signed update header (plain rounds) or inside the secure sum (SecAgg),
/// the clip norm moves towards the γ-quantile of the update norms, and the networked run equals the same run in memory.
/// </summary>
public sealed class AdaptiveClippingOverTheWireTests
{
    private const int Clients = 4;
    private const double Gamma = 0.5;
    private const double Eta = 0.5;
    private static readonly PrivacyBudget Budget = new(1000, 1e-5);
    private static readonly SecureAggregationSettings Secure = new(TimeSpan.FromSeconds(10)) { PollInterval = TimeSpan.FromMilliseconds(20) };

    private static DpFedAvgOptions Dp(double initialClip, int clients = Clients) =>
        DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(initialClip, Gamma, Eta, 1.0), clients, 100, ClippingPlacement.Client);

    private static RoundOptions Rounds(long rounds, double initialClip, int clients = Clients) =>
        new(rounds, ClientSampling.OfCount(clients), TimeSpan.FromSeconds(20), clients, new AggregatorSettings("fedavg"), maxSampleCount: 10_000, privacy: Dp(initialClip, clients));

    private static ModelParameters Delta(int index, ModelParameters global, long round)
    {
        var delta = DeterministicTrainer.Train(index, global, round);
        System.Numerics.Tensors.TensorPrimitives.Subtract(delta.AsSpan(), global.AsSpan(), delta.AsSpan());
        return delta;
    }

    private static async Task<List<(FederationClient Client, int Index)>> EnrollAsync(TestFederation federation, int count)
    {
        var clients = new List<(FederationClient, int)>();
        for (int i = 0; i < count; i++)
        {
            var (client, _) = await federation.EnrollAsync(i);
            clients.Add((client, i));
        }

        return clients;
    }

    private static async Task RunAsync(TestFederation federation, IEnumerable<(FederationClient Client, int Index)> clients, string tag)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reasons = await Task.WhenAll(clients.Select(c => Task.Run(() =>
            new FederatedParticipant(c.Client, new DeterministicTrainer(c.Index), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"{tag}-{c.Index}.progress")))
            {
                InitialBackoff = TimeSpan.FromMilliseconds(50),
            }.RunAsync(cts.Token))));
        Assert.All(reasons, r => Assert.Equal("rounds-completed", r));
    }

    /// <summary>The same rounds in memory: each client clips its own delta and reports 1[‖Δ‖ ≤ C] for the round's C.</summary>
    private static (ModelParameters Model, double ClipNorm, List<double> Path, bool MixedBits) InMemory(RoundOptions rounds, IReadOnlyDictionary<string, int> indexOf, IGaussianNoise noise, bool secure)
    {
        var coordinator = new RoundCoordinator(rounds, TestFederation.InitialModel(), 0, new PrivacyLedger(Budget), noise, new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        var path = new List<double> { coordinator.ClientClipNorm!.Value };
        bool mixed = false;
        while (coordinator.Stage != RoundStage.Finished)
        {
            var ticket = coordinator.TryStartRound([.. indexOf.Keys])!;
            var global = coordinator.GlobalModel;
            double clip = coordinator.ClientClipNorm!.Value;
            var sum = new double[global.Length];
            long under = 0;
            foreach (var id in ticket.Participants)
            {
                var delta = Delta(indexOf[id], global, ticket.Round);
                var report = L2Clipping.Clip(delta.AsSpan(), clip);
                long bit = report.PreClipNorm <= clip ? 1 : 0;
                under += bit;
                if (secure)
                {
                    for (int j = 0; j < sum.Length; j++)
                    {
                        sum[j] += delta.AsSpan()[j];
                    }
                }
                else
                {
                    Assert.True(coordinator.Submit(ticket.Round, new ClientUpdate(id, delta, DeterministicTrainer.Samples(indexOf[id])), bit).IsAccepted);
                }
            }

            mixed |= under > 0 && under < ticket.Participants.Count;
            var result = secure
                ? coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(ticket.Participants, sum, ticket.Participants.Count, [], null) { ClipIndicatorSum = under })
                : coordinator.Poll()!;
            Assert.True(result.Aggregated);
            path.Add(coordinator.ClientClipNorm!.Value);
        }

        return (coordinator.GlobalModel, coordinator.ClientClipNorm!.Value, path, mixed);
    }

    [Theory]
    // C₀ = 5: every first-round norm is under C₀, so C shrinks (later rounds' norms grow with the model's DP noise).
    // C₀ = 0.001: every norm is over C₀, so C grows.
    [InlineData(false, 5.0)]
    [InlineData(false, 0.001)]
    [InlineData(true, 5.0)]
    [InlineData(true, 0.001)]
    [InlineData(false, 0.4)] // C₀ among the norms (about 0.16 to 0.63): some bits 0, some 1
    [InlineData(true, 0.4)]
    public async Task The_clip_norm_moves_towards_the_quantile_and_matches_the_run_in_memory(bool secureAggregation, double initialClip)
    {
        const long total = 3;
        var rounds = Rounds(total, initialClip);
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { PrivacyBudget = Budget, SecureAggregation = secureAggregation ? Secure : null };
        var server = await federation.StartAsync(options, new GaussianNoise(new SeededRandomSource(42)));
        var clients = await EnrollAsync(federation, Clients);
        await RunAsync(federation, clients, secureAggregation ? "secure" : "plain");

        var stored = server.Store.ListRounds();
        Assert.Equal(total, stored.Count);
        Assert.All(stored, r => Assert.Equal("aggregated", r.Status));
        Assert.All(stored, r => Assert.Equal(Clients, r.Accepted.Count));
        Assert.All(stored, r => Assert.Empty(r.Rejected));

        var indexOf = clients.ToDictionary(c => c.Client.ClientId!, c => c.Index);
        var (model, clip, path, mixed) = InMemory(rounds, indexOf, new GaussianNoise(new SeededRandomSource(42)), secureAggregation);
        Assert.Equal(initialClip is > 0.01 and < 1, mixed);
        double served = server.Store.LoadServerState()!.ClipNorm!.Value;

        // The count is exact on both sides (integer bits, or their exact secure sum) and the noise streams are the same,
        // so C agrees to the last bit; the model agrees up to the quantization of the secure sum.
        Assert.Equal(clip, served);
        if (initialClip > 1)
        {
            Assert.True(served < initialClip, $"C = {served} should have shrunk from {initialClip}");
        }
        else if (initialClip < 0.01)
        {
            Assert.True(served > initialClip, $"C = {served} should have grown from {initialClip}");
        }
        else
        {
            Assert.NotEqual(initialClip, served);
        }

        // Each step is geometric with rate η: |log(C_{t+1}/C_t)| ≤ η·max(|b̄ − γ|), and b̄ here stays within a few σ_b/m.
        for (int t = 1; t < path.Count; t++)
        {
            Assert.InRange(Math.Abs(Math.Log(path[t] / path[t - 1])), 0, Eta * 3);
        }

        var expected = model.AsSpan().ToArray();
        var actual = server.GlobalModel.AsSpan().ToArray();
        Assert.NotEqual(TestFederation.InitialModel().AsSpan().ToArray(), actual);
        for (int j = 0; j < expected.Length; j++)
        {
            if (secureAggregation)
            {
                Assert.InRange(actual[j] - expected[j], -1e-5f, 1e-5f);
            }
            else
            {
                Assert.Equal(expected[j], actual[j]);
            }
        }
    }

    [Fact]
    public async Task A_missing_or_malformed_indicator_is_rejected_with_a_recorded_reason()
    {
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, Rounds(1, 1.0, clients: 3)) with { PrivacyBudget = Budget };
        var server = await federation.StartAsync(options, new ZeroNoise());
        var clients = await EnrollAsync(federation, 3);
        foreach (var (c, _) in clients)
        {
            await c.FetchTaskAsync(-1);
        }

        var task = await EndToEndTests.WaitForTrainAsync(clients[0].Client);
        Assert.Equal(1.0, task.ClipNorm);
        var global = Safetensors.Read(await clients[0].Client.FetchModelAsync(task.Round)).Parameters;
        byte[] Payload(int i) => Safetensors.Write(Delta(i, global, task.Round));

        var missing = await Assert.ThrowsAsync<RpcException>(() => clients[0].Client.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Payload(0).AsMemory(), 10, 0.1, null));
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Contains("no clip indicator", missing.Status.Detail);
        var bad = await Assert.ThrowsAsync<RpcException>(() => clients[1].Client.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Payload(1).AsMemory(), 10, 0.1, 2u));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("the clip indicator is 2", bad.Status.Detail);
        Assert.True((await clients[2].Client.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Payload(2).AsMemory(), 10, 0.1, 1u)).Accepted);

        var round = Assert.Single(server.Store.ListRounds());
        Assert.Equal([clients[2].Client.ClientId!], round.Accepted);
        Assert.Equal(2, round.Rejected.Count);
        Assert.Contains(round.Rejected, r => r.ClientId == clients[0].Client.ClientId && r.Reason.Contains("no clip indicator", StringComparison.Ordinal));
        Assert.Contains(round.Rejected, r => r.ClientId == clients[1].Client.ClientId && r.Reason.Contains("the clip indicator is 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_restart_mid_round_and_between_rounds_continues_with_the_same_clip_norm()
    {
        const int n = 3;
        await using var federation = new TestFederation();
        ServerOptions Options(long rounds) => TestFederation.Options(federation.StateDirectory, Rounds(rounds, 5.0, clients: n)) with { PrivacyBudget = Budget };
        await federation.StartAsync(Options(1), new ZeroNoise());
        var keys = new List<(IdentityKeyPair Key, string Id, int Index)>();
        var clients = new List<FederationClient>();
        for (int i = 0; i < n; i++)
        {
            var (client, key) = await federation.EnrollAsync(i);
            keys.Add((key, client.ClientId!, i));
            clients.Add(client);
            await client.FetchTaskAsync(-1);
        }

        // Round 0: two clients submit (bits 1 and 0), then the server stops mid-round.
        var task = await EndToEndTests.WaitForTrainAsync(clients[0]);
        Assert.Equal(5.0, task.ClipNorm);
        var global = Safetensors.Read(await clients[0].FetchModelAsync(task.Round)).Parameters;
        byte[] Payload(int i) => Safetensors.Write(Delta(i, global, task.Round));
        Assert.True((await clients[0].SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Payload(0).AsMemory(), 10, 0.1, 1u)).Accepted);
        Assert.True((await clients[1].SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Payload(1).AsMemory(), 10, 0.1, 0u)).Accepted);
        await federation.StopAsync();

        // Restarted, the round resumes with both bits; the third (bit 1) completes it: count 2 of m = 3, no noise.
        var server = await federation.StartAsync(Options(1), new ZeroNoise());
        var c2 = federation.Connect(keys[2].Key, keys[2].Id);
        Assert.True((await c2.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Payload(2).AsMemory(), 10, 0.1, 1u)).Accepted);
        for (int i = 0; i < 200 && server.StopReason is null; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(StopReason.RoundsCompleted, server.StopReason);
        double afterRound0 = 5.0 * Math.Exp(-Eta * ((2.0 / 3) - Gamma));
        Assert.Equal(afterRound0, server.Store.LoadServerState()!.ClipNorm!.Value, 12);
        await federation.StopAsync();

        // Restarted for one more round: the task carries the saved C, not C₀.
        server = await federation.StartAsync(Options(2), new ZeroNoise());
        var again = keys.Select(k => federation.Connect(k.Key, k.Id)).ToList();
        foreach (var c in again)
        {
            await c.FetchTaskAsync(0);
        }

        var next = await EndToEndTests.WaitForTrainAsync(again[0]);
        Assert.Equal(1, next.Round);
        Assert.Equal(afterRound0, next.ClipNorm, 12);
    }
}
