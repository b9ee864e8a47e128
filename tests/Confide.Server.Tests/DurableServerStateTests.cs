using Confide.Aggregation;
using Confide.Aggregation.Optimizers;
using Confide.Client;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Confide.Updates;

namespace Confide.Server.Tests;

/// <summary>
/// The stateful server optimisers and adaptive clipping over the wire: their state is checkpointed with each round,
/// so a server stopped after k rounds and restarted finishes with the same model, bit for bit, as a run that never
/// stopped. DP noise is zero here (see <see cref="ZeroNoise"/>) so that the comparison is exact.
/// </summary>
public sealed class DurableServerStateTests
{
    private const int Clients = 3;
    private static readonly PrivacyBudget Budget = new(1000, 1e-5);

    private static RoundOptions Options(long rounds, string optimizer) =>
        new(rounds, ClientSampling.OfCount(Clients), TimeSpan.FromSeconds(20), Clients, new AggregatorSettings("fedavg"), maxSampleCount: 10_000,
            privacy: DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(0.05, 0.5, 0.2, 1.0), Clients, 100, ClippingPlacement.Server))
        {
            ServerOptimizer = new ServerOptimizerSettings(optimizer, 0.1, Momentum: optimizer == "fedavgm" ? 0.9 : null),
        };

    /// <summary>The run in memory: one coordinator, or (with <paramref name="restartAfter"/>) a new one that gets only the model and ledger.</summary>
    private static (ModelParameters Model, double ClipNorm) InMemoryRun(RoundOptions options, IReadOnlyDictionary<string, int> indexOf, long? restartAfter = null)
    {
        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        var ledger = new PrivacyLedger(Budget);
        var coordinator = new RoundCoordinator(options, TestFederation.InitialModel(), 0, ledger, new ZeroNoise(), new SeededRandomSource(3), clock);
        while (coordinator.Stage != RoundStage.Finished)
        {
            if (coordinator.Round == restartAfter)
            {
                coordinator = new RoundCoordinator(options, coordinator.GlobalModel, coordinator.Round, ledger, new ZeroNoise(), new SeededRandomSource(3), clock);
            }

            var ticket = coordinator.TryStartRound([.. indexOf.Keys])!;
            foreach (var id in ticket.Participants)
            {
                var global = coordinator.GlobalModel;
                var delta = DeterministicTrainer.Train(indexOf[id], global, ticket.Round);
                System.Numerics.Tensors.TensorPrimitives.Subtract(delta.AsSpan(), global.AsSpan(), delta.AsSpan());
                Assert.True(coordinator.Submit(ticket.Round, new ClientUpdate(id, delta, DeterministicTrainer.Samples(indexOf[id]))).IsAccepted);
            }

            Assert.True(coordinator.Poll()!.Aggregated);
        }

        return (coordinator.GlobalModel, coordinator.ExportServerState().ClipNorm!.Value);
    }

    private static async Task RunParticipantsAsync(IEnumerable<(FederationClient Client, int Index, string Progress)> clients)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var runs = clients.Select(c => Task.Run(() =>
            new FederatedParticipant(c.Client, new DeterministicTrainer(c.Index), ParticipantProgress.Load(c.Progress)) { InitialBackoff = TimeSpan.FromMilliseconds(50) }
                .RunAsync(cts.Token))).ToArray();
        Assert.All(await Task.WhenAll(runs), r => Assert.Equal("rounds-completed", r));
    }

    [Theory]
    [InlineData("fedadam")]
    [InlineData("fedavgm")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    public async Task A_server_restarted_after_k_rounds_ends_bit_for_bit_where_an_uninterrupted_run_ends(string optimizer)
    {
        const long total = 4, k = 2;
        await using var federation = new TestFederation();
        ServerOptions ServerOptions(long rounds) => TestFederation.Options(federation.StateDirectory, Options(rounds, optimizer)) with { PrivacyBudget = Budget };

        await federation.StartAsync(ServerOptions(k), new ZeroNoise());
        var keys = new List<(IdentityKeyPair Key, string Id, int Index)>();
        var clients = new List<(FederationClient, int, string)>();
        for (int i = 0; i < Clients; i++)
        {
            var (client, key) = await federation.EnrollAsync(i);
            keys.Add((key, client.ClientId!, i));
            var progress = Path.Combine(federation.StateDirectory, $"client-{i}.progress");
            ParticipantProgress.Load(progress).SetClientId(client.ClientId!);
            clients.Add((client, i, progress));
        }

        await RunParticipantsAsync(clients);
        var clipAfterK = federation.Server!.Store.LoadServerState()!.ClipNorm!.Value;
        await federation.StopAsync();

        var server = await federation.StartAsync(ServerOptions(total), new ZeroNoise());
        await RunParticipantsAsync(keys.Select(k => (federation.Connect(k.Key, k.Id), k.Index, Path.Combine(federation.StateDirectory, $"client-{k.Index}.progress"))));
        Assert.Equal(StopReason.RoundsCompleted, server.StopReason);

        var indexOf = keys.ToDictionary(x => x.Id, x => x.Index);
        var (expected, expectedClip) = InMemoryRun(Options(total, optimizer), indexOf);
        Assert.Equal(expected.AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());

        // The stored state is the last round's: the clip norm kept adapting after the restart, the optimiser's
        // vectors are there, and only the latest optimiser file is kept.
        var saved = server.Store.LoadServerState()!;
        Assert.Equal(expectedClip, saved.ClipNorm);
        Assert.NotEqual(clipAfterK, saved.ClipNorm);
        Assert.Equal(new ServerOptimizerSettings(optimizer, 0.1, Momentum: optimizer == "fedavgm" ? 0.9 : null).Create().Name, saved.Optimizer.Optimizer);
        Assert.Equal(TestFederation.Layout.TotalLength, saved.Optimizer.Length);
        Assert.Single(Directory.GetFiles(server.Store.ModelDirectory, "optimizer-round-*.safetensors"));

        // Control: a restart that kept only the model and the ledger (the state before this change) ends elsewhere,
        // so the equality above is evidence that the optimiser state and the clip norm were restored.
        var (forgetful, _) = InMemoryRun(Options(total, optimizer), indexOf, restartAfter: k);
        Assert.NotEqual(expected.AsSpan().ToArray(), forgetful.AsSpan().ToArray());
    }

    [Fact]
    public async Task A_state_folder_refuses_a_restart_with_another_optimizer()
    {
        await using var federation = new TestFederation();
        ServerOptions ServerOptions(string optimizer) => TestFederation.Options(federation.StateDirectory, Options(2, optimizer)) with { PrivacyBudget = Budget };
        await federation.StartAsync(ServerOptions("fedadam"), new ZeroNoise());
        var clients = new List<(FederationClient, int, string)>();
        for (int i = 0; i < Clients; i++)
        {
            var (client, _) = await federation.EnrollAsync(i);
            clients.Add((client, i, Path.Combine(federation.StateDirectory, $"client-{i}.progress")));
        }

        await RunParticipantsAsync(clients);
        await federation.StopAsync();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ConfideServer.StartAsync(ServerOptions("fedyogi"), noise: new ZeroNoise()));
        Assert.Contains("saved by optimiser 'fedadam', not 'fedyogi'", ex.Message);
    }

    [Fact]
    public void Adaptive_clipping_with_client_side_clipping_asks_each_update_for_its_clip_indicator()
    {
        // Refused before the clip indicator existed; see AdaptiveClippingOverTheWireTests for the wire.
        var dp = DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(0.05, 0.5, 0.2, 1.0), Clients, 100, ClippingPlacement.Client);
        var options = new RoundOptions(2, ClientSampling.OfCount(Clients), TimeSpan.FromSeconds(5), Clients, new AggregatorSettings("fedavg"), privacy: dp);
        var coordinator = new RoundCoordinator(options, TestFederation.InitialModel(), 0, new PrivacyLedger(Budget), new ZeroNoise(), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        Assert.True(coordinator.RequiresClipIndicator);
        Assert.Equal(0.05, coordinator.ClientClipNorm);
    }

    [Fact]
    public void Server_state_can_only_be_restored_before_the_first_round()
    {
        var coordinator = new RoundCoordinator(Options(2, "fedadam"), TestFederation.InitialModel(), 0, new PrivacyLedger(Budget), new ZeroNoise(), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        var state = coordinator.ExportServerState();
        Assert.Equal(0.05, state.ClipNorm);
        coordinator.TryStartRound(["a", "b", "c"]);
        Assert.Throws<InvalidOperationException>(() => coordinator.RestoreServerState(state));

        var fixedDp = new RoundOptions(2, ClientSampling.OfCount(Clients), TimeSpan.FromSeconds(5), Clients, new AggregatorSettings("fedavg"));
        var plain = new RoundCoordinator(fixedDp, TestFederation.InitialModel(), 0, null, null, new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
        Assert.Contains("adaptive clipping is not configured", Assert.Throws<ArgumentException>(() => plain.RestoreServerState(state with { Optimizer = ServerOptimizerState.Empty("server-sgd") })).Message);
    }
}
