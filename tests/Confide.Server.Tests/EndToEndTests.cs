using Confide.Client;
using Confide.Parameters;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Confide.Updates;

namespace Confide.Server.Tests;

public sealed class EndToEndTests
{
    /// <summary>Replays a run in memory: same coordinator, same trainers, no network.</summary>
    private static ModelParameters InMemoryRun(RoundOptions options, IReadOnlyList<string> ids, IReadOnlyDictionary<string, int> indexOf)
    {
        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        var coordinator = new RoundCoordinator(options, TestFederation.InitialModel(), 0, null, null, new SeededRandomSource(3), clock);
        while (coordinator.Stage != RoundStage.Finished)
        {
            var ticket = coordinator.TryStartRound(ids)!;
            foreach (var id in ticket.Participants)
            {
                var global = coordinator.GlobalModel;
                var delta = DeterministicTrainer.Train(indexOf[id], global, ticket.Round);
                System.Numerics.Tensors.TensorPrimitives.Subtract(delta.AsSpan(), global.AsSpan(), delta.AsSpan());
                Assert.True(coordinator.Submit(ticket.Round, new ClientUpdate(id, delta, DeterministicTrainer.Samples(indexOf[id]))).IsAccepted);
            }

            Assert.True(coordinator.Poll()!.Aggregated);
        }

        return coordinator.GlobalModel;
    }

    /// <summary>Enrolls clients 0 … <paramref name="count"/> − 1, each with a progress file in the state folder.</summary>
    private static async Task<(List<(FederationClient Client, int Index, string Progress)> Clients, Dictionary<string, int> IndexOf)> EnrollAsync(TestFederation federation, int count)
    {
        var clients = new List<(FederationClient, int, string)>();
        var indexOf = new Dictionary<string, int>();
        for (int i = 0; i < count; i++)
        {
            var (client, _) = await federation.EnrollAsync(i);
            clients.Add((client, i, Path.Combine(federation.StateDirectory, $"client-{i}.progress")));
            indexOf[client.ClientId!] = i;
        }

        return (clients, indexOf);
    }

    private static async Task<List<string>> RunParticipantsAsync(TestFederation federation, IReadOnlyList<(FederationClient Client, int Index, string Progress)> clients, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var runs = clients.Select(c => Task.Run(() =>
            new FederatedParticipant(c.Client, new DeterministicTrainer(c.Index), ParticipantProgress.Load(c.Progress)) { InitialBackoff = TimeSpan.FromMilliseconds(50) }
                .RunAsync(cts.Token))).ToArray();
        return [.. await Task.WhenAll(runs)];
    }

    [Fact]
    public async Task Clients_over_tls_through_several_rounds_match_the_same_run_in_memory()
    {
        await using var federation = new TestFederation();
        var options = TestFederation.Rounds(rounds: 3, clients: 4);
        var server = await federation.StartAsync(options);
        Assert.True(server.CertificateCreated);
        Assert.Equal(64, server.CertificateFingerprint!.Length);
        Assert.Equal("https", server.Address.Scheme);

        var (clients, indexOf) = await EnrollAsync(federation, 4);

        var reasons = await RunParticipantsAsync(federation, clients, TimeSpan.FromSeconds(30));
        Assert.All(reasons, r => Assert.Equal("rounds-completed", r));
        Assert.Equal(StopReason.RoundsCompleted, server.StopReason);

        var expected = InMemoryRun(options, [.. indexOf.Keys], indexOf);
        Assert.Equal(expected.AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());
        Assert.NotEqual(TestFederation.InitialModel().AsSpan().ToArray(), expected.AsSpan().ToArray());

        var rounds = server.Store.ListRounds();
        Assert.Equal(3, rounds.Count);
        Assert.All(rounds, r =>
        {
            Assert.Equal("aggregated", r.Status);
            Assert.Equal(4, r.Accepted.Count);
            Assert.Empty(r.Rejected);
            Assert.Empty(r.Stragglers);
        });

        var status = await clients[0].Item1.GetStatusAsync();
        Assert.Equal(3, status.CompletedRounds);
        Assert.Equal(4, status.EnrolledClients);
        Assert.Equal("finished", status.Stage);
        Assert.Equal("rounds-completed", status.StopReason);
    }

    [Fact]
    public async Task A_robust_aggregator_keeps_every_update_of_a_round_and_matches_the_same_run_in_memory()
    {
        // The median needs all of a round's updates at once, so the server holds their pooled arrays until the round
        // ends (FedAvg hands each back as soon as it is summed). An array handed back early would be overwritten by
        // the next upload and change the median.
        await using var federation = new TestFederation();
        var options = TestFederation.Rounds(rounds: 3, clients: 5, aggregator: "median");
        var server = await federation.StartAsync(options);
        var (clients, indexOf) = await EnrollAsync(federation, 5);

        var reasons = await RunParticipantsAsync(federation, clients, TimeSpan.FromSeconds(30));
        Assert.All(reasons, r => Assert.Equal("rounds-completed", r));

        var expected = InMemoryRun(options, [.. indexOf.Keys], indexOf);
        Assert.Equal(expected.AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());
        Assert.NotEqual(InMemoryRun(TestFederation.Rounds(rounds: 3, clients: 5), [.. indexOf.Keys], indexOf).AsSpan().ToArray(), expected.AsSpan().ToArray());
        Assert.All(server.Store.ListRounds(), r => Assert.Equal(5, r.Accepted.Count));
    }

    [Fact]
    public async Task A_restarted_server_resumes_from_the_last_completed_round_and_finishes_like_an_uninterrupted_run()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 2, clients: 3));
        var keys = new List<(IdentityKeyPair Key, string Id, int Index)>();
        var clients = new List<(FederationClient, int, string)>();
        for (int i = 0; i < 3; i++)
        {
            var (client, key) = await federation.EnrollAsync(i);
            keys.Add((key, client.ClientId!, i));
            var progress = Path.Combine(federation.StateDirectory, $"client-{i}.progress");
            ParticipantProgress.Load(progress).SetClientId(client.ClientId!);
            clients.Add((client, i, progress));
        }

        await RunParticipantsAsync(federation, clients, TimeSpan.FromSeconds(30));
        var afterTwo = federation.Server!.GlobalModel.AsSpan().ToArray();
        await federation.StopAsync();

        // Same state folder, more rounds: the server must pick up after round 1 with the same model.
        var options = TestFederation.Rounds(rounds: 4, clients: 3);
        var server = await federation.StartAsync(options);
        Assert.False(server.CertificateCreated);
        Assert.Equal(afterTwo, server.GlobalModel.AsSpan().ToArray());
        clients = [.. keys.Select(k => (federation.Connect(k.Key, k.Id), k.Index, Path.Combine(federation.StateDirectory, $"client-{k.Index}.progress")))];
        await RunParticipantsAsync(federation, clients, TimeSpan.FromSeconds(30));

        var indexOf = keys.ToDictionary(k => k.Id, k => k.Index);
        var expected = InMemoryRun(options, [.. indexOf.Keys], indexOf);
        Assert.Equal(expected.AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());
        Assert.Equal([0L, 1, 2, 3], server.Store.ListRounds().Select(r => r.Round));
    }

    [Fact]
    public async Task A_server_killed_mid_round_restores_the_round_with_its_accepted_updates()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2));
        var (a, keyA) = await federation.EnrollAsync(1);
        var (b, keyB) = await federation.EnrollAsync(2);
        await a.FetchTaskAsync(-1);
        await b.FetchTaskAsync(-1);
        var task = await WaitForTrainAsync(a);
        var global = Safetensors.Read(await a.FetchModelAsync(task.Round)).Parameters;
        var deltaA = DeterministicTrainer.Train(1, global, task.Round);
        System.Numerics.Tensors.TensorPrimitives.Subtract(deltaA.AsSpan(), global.AsSpan(), deltaA.AsSpan());
        var response = await a.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Safetensors.Write(deltaA), 10, 0.1);
        Assert.True(response.Accepted);
        string idA = a.ClientId!, idB = b.ClientId!;
        await federation.StopAsync();

        // A payload written just before a kill, whose submission was never recorded, is cleaned up on restart.
        string pending = Path.Combine(federation.StateDirectory, "pending");
        Assert.Single(Directory.GetFiles(pending));
        string orphan = Path.Combine(pending, "round-000000-orphan.safetensors");
        File.WriteAllBytes(orphan, [1, 2, 3]);

        var server = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2));
        Assert.False(File.Exists(orphan));
        Assert.Single(Directory.GetFiles(pending));
        a = federation.Connect(keyA, idA);
        b = federation.Connect(keyB, idB);
        var status = await a.GetStatusAsync();
        Assert.Equal("collecting", status.Stage);
        Assert.Equal(1, status.AcceptedUpdates);
        var again = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => a.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Safetensors.Write(deltaA), 10, 0.1));
        Assert.Equal(Grpc.Core.StatusCode.AlreadyExists, again.StatusCode);

        var deltaB = DeterministicTrainer.Train(2, global, task.Round);
        System.Numerics.Tensors.TensorPrimitives.Subtract(deltaB.AsSpan(), global.AsSpan(), deltaB.AsSpan());
        Assert.True((await b.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Safetensors.Write(deltaB), 30, 0.1)).Accepted);
        await server.Finished.WaitAsync(TimeSpan.FromSeconds(10));
        var round = Assert.Single(server.Store.ListRounds());
        Assert.Equal("aggregated", round.Status);
        Assert.Equal(2, round.Accepted.Count);
        // Individual updates are deleted once aggregated, in the background (the next round does not wait for it).
        for (int i = 0; i < 200 && Directory.GetFiles(pending).Length > 0; i++)
        {
            await Task.Delay(25);
        }

        Assert.Empty(Directory.GetFiles(pending));

        // FedAvg by sample counts 10 and 30.
        var expected = global.AsSpan().ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] += (float)((10.0 * deltaA.AsSpan()[i] + 30.0 * deltaB.AsSpan()[i]) / 40.0);
        }

        var actual = server.GlobalModel.AsSpan().ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 5);
        }
    }

    [Fact]
    public async Task A_client_that_dies_mid_round_becomes_a_straggler_and_the_round_completes_without_it()
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 3, deadline: TimeSpan.FromSeconds(2), minUpdates: 2));
        var live = new List<(FederationClient, int, string)>();
        for (int i = 0; i < 2; i++)
        {
            var (client, _) = await federation.EnrollAsync(i);
            live.Add((client, i, Path.Combine(federation.StateDirectory, $"client-{i}.progress")));
        }

        var (dead, _) = await federation.EnrollAsync(9);
        await dead.FetchTaskAsync(-1); // seen once (so it is sampled), then never heard from again

        await RunParticipantsAsync(federation, live, TimeSpan.FromSeconds(20));
        var round = Assert.Single(server.Store.ListRounds());
        Assert.Equal("aggregated", round.Status);
        Assert.Equal([dead.ClientId!], round.Stragglers);
        Assert.Equal(2, round.Accepted.Count);
    }

    internal static async Task<Wire.V1.RoundTask> WaitForTrainAsync(FederationClient client)
    {
        for (int i = 0; i < 200; i++)
        {
            var task = await client.FetchTaskAsync(-1);
            if (task.Kind == Wire.V1.RoundTask.Types.Kind.Train)
            {
                return task;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException("The client was not given a training task within 5 s.");
    }
}
