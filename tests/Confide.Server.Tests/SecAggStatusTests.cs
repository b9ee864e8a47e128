using Confide.Client;
using Confide.Parameters;
using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server.Internal;
using Confide.Testing;
using Confide.Wire.V1;

namespace Confide.Server.Tests;

/// <summary>
/// GetStatus shows the SecAgg stage of the running round, and answers while the final reconstruction runs (it runs
/// outside the round lock); real server and clients on 127.0.0.1.
/// </summary>
public sealed class SecAggStatusTests
{
    /// <summary>Bounds every wait of these tests, so a regression fails instead of hanging; never a speed requirement.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static FederationClient Connect(ConfideServer server, IdentityKeyPair key) =>
        new(new FederationClientOptions(server.Address, server.CertificateFingerprint) { CallTimeout = TimeSpan.FromSeconds(10), TransferTimeout = TimeSpan.FromSeconds(20) }, key);

    private static async Task<(List<FederationClient> Clients, List<IdentityKeyPair> Keys)> EnrollAsync(ConfideServer server, int count)
    {
        var clients = new List<FederationClient>();
        var keys = new List<IdentityKeyPair>();
        for (int i = 0; i < count; i++)
        {
            var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(900 + i)));
            keys.Add(key);
            var client = Connect(server, key);
            await client.EnrollAsync(server.IssueToken());
            clients.Add(client);
        }

        return (clients, keys);
    }

    private static async Task<StatusResponse> WaitForStatusAsync(FederationClient observer, Func<StatusResponse, bool> condition)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (true)
        {
            var status = await observer.GetStatusAsync(cts.Token);
            if (condition(status))
            {
                return status;
            }

            await Task.Delay(20, cts.Token);
        }
    }

    private static async Task StopAsync(CancellationTokenSource cts, IEnumerable<Task> participants)
    {
        await cts.CancelAsync();
        foreach (var p in participants)
        {
            try
            {
                await p;
            }
            catch (OperationCanceledException)
            {
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Cancelled)
            {
            }
        }
    }

    [Fact]
    public async Task GetStatus_shows_the_secagg_stage_its_message_counts_and_its_deadline()
    {
        // Long deadlines: the round is held in AdvertiseKeys by a client still training, then in ShareKeys by two dropouts.
        var rounds = new RoundOptions(1, ClientSampling.OfCount(3), TimeSpan.FromSeconds(60), 2, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000);
        var settings = new SecureAggregationSettings(TimeSpan.FromSeconds(60)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        await using var federation = new TestFederation();
        var server = await ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, rounds) with { SecureAggregation = settings });
        var (clients, keys) = await EnrollAsync(server, 3);
        using var observerKey = IdentityKeyPair.Generate(new SeededRandomSource(999));
        using var observer = Connect(server, observerKey); // GetStatus is unsigned: a never-enrolled key will do
        using var gate = new ManualResetEventSlim(false);
        using var cts = new CancellationTokenSource(Bound);
        var participants = new List<Task>();
        try
        {
            var idle = await observer.GetStatusAsync();
            Assert.Equal(("", 0, 0, 0L), (idle.SecaggStage, idle.SecaggReceived, idle.SecaggExpected, idle.SecaggStageDeadlineUnixMs));

            long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (int i = 0; i < 3; i++)
            {
                ILocalTrainer trainer = i == 2 ? new GatedTrainer(new DeterministicTrainer(i), gate) : new DeterministicTrainer(i);
                var participant = new FederatedParticipant(clients[i], trainer, ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"status-{i}.progress")))
                {
                    VanishBeforeSecAggStage = i == 0 ? null : SecAggStage.ShareKeys,
                };
                participants.Add(Task.Run(() => participant.RunAsync(cts.Token)));
            }

            // Clients 0 and 1 advertised their keys; client 2 is still training.
            var advertise = await WaitForStatusAsync(observer, s => s.SecaggStage == "advertise-keys" && s.SecaggReceived == 2);
            long seen = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Assert.Equal("collecting", advertise.Stage);
            Assert.Equal(3, advertise.SecaggExpected);
            Assert.Equal(3, advertise.Participants);

            // AdvertiseKeys closes 60 s after the round started, which was between `before` and `seen`.
            Assert.InRange(advertise.SecaggStageDeadlineUnixMs, before + 60_000, seen + 60_000);

            // Client 2 advertises, AdvertiseKeys closes at once, and only client 0 sends its shares.
            long released = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            gate.Set();
            var share = await WaitForStatusAsync(observer, s => s.SecaggStage == "share-keys" && s.SecaggReceived == 1);
            seen = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Assert.Equal(3, share.SecaggExpected);
            Assert.InRange(share.SecaggStageDeadlineUnixMs, released + 60_000, seen + 60_000);
            Assert.Equal("collecting", share.Stage);
        }
        finally
        {
            gate.Set();
            await StopAsync(cts, participants);
            clients.ForEach(c => c.Dispose());
            keys.ForEach(k => k.Dispose());
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task GetStatus_and_FetchTask_answer_while_the_final_reconstruction_runs_and_the_result_is_unchanged()
    {
        var rounds = new RoundOptions(1, ClientSampling.OfCount(4), TimeSpan.FromSeconds(20), 3, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000);
        // MaskedInput waits its whole deadline for the dropout; 3 s leaves the others room on a loaded machine.
        var settings = new SecureAggregationSettings(TimeSpan.FromSeconds(3)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        await using var federation = new TestFederation();
        var server = await ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, rounds) with { SecureAggregation = settings });
        var (clients, keys) = await EnrollAsync(server, 4);
        using var observerKey = IdentityKeyPair.Generate(new SeededRandomSource(998));
        using var observer = Connect(server, observerKey);
        using var entered = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        using var cts = new CancellationTokenSource(Bound);

        // The seam runs on the ticker's thread right before the reconstruction: block there until the test has looked.
        server.Host.BeforeReconstruction = () =>
        {
            entered.Set();
            release.Wait(Bound);
        };
        var participants = new List<Task>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                // Client 3 drops after ShareKeys, so its mask key is reconstructed from its neighbours' shares.
                var participant = new FederatedParticipant(clients[i], new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"slow-{i}.progress")))
                {
                    VanishBeforeSecAggStage = i == 3 ? SecAggStage.MaskedInputCollection : null,
                };
                participants.Add(Task.Run(() => participant.RunAsync(cts.Token)));
            }

            if (!await Task.Run(() => entered.Wait(Bound)))
            {
                var stored = server.Store.ListRounds();
                Assert.Fail($"the round never reached its reconstruction: {string.Join("; ", stored.Select(r => $"{r.Status} {r.FailureReason}"))}");
            }

            // The reconstruction is held; the round lock is free: status and tasks are answered.
            var status = await observer.GetStatusAsync();
            Assert.Equal("collecting", status.Stage);
            Assert.Equal("reconstructing", status.SecaggStage);
            Assert.Equal((3, 3, 0L), (status.SecaggReceived, status.SecaggExpected, status.SecaggStageDeadlineUnixMs));
            Assert.Equal(0, status.CompletedRounds);
            var task = await clients[0].FetchTaskAsync(0);
            Assert.Equal(RoundTask.Types.Kind.Wait, task.Kind);

            release.Set();
            await Task.WhenAll(participants);

            var round = Assert.Single(server.Store.ListRounds());
            Assert.Equal("aggregated", round.Status);
            Assert.Equal([clients[3].ClientId!], round.Stragglers);
            Assert.Equal(3, round.Accepted.Count);
            var after = await observer.GetStatusAsync();
            Assert.Equal(("finished", ""), (after.Stage, after.SecaggStage));

            // The weighted mean of the three survivors, as without the split (within the quantizer's bound plus float rounding).
            var global = TestFederation.InitialModel();
            var expected = global.AsSpan().ToArray();
            double totalWeight = 0;
            var sum = new double[expected.Length];
            for (int i = 0; i < 3; i++)
            {
                var delta = DeterministicTrainer.Train(i, global, 0).AsSpan();
                long w = DeterministicTrainer.Samples(i);
                totalWeight += w;
                for (int j = 0; j < sum.Length; j++)
                {
                    sum[j] += w * Math.Clamp(delta[j] - global.AsSpan()[j], -settings.ClipRange, settings.ClipRange);
                }
            }

            var actual = server.GlobalModel.AsSpan().ToArray();
            for (int j = 0; j < expected.Length; j++)
            {
                Assert.InRange(actual[j] - (expected[j] + (sum[j] / totalWeight)), -1e-5, 1e-5);
            }
        }
        finally
        {
            release.Set();
            await StopAsync(cts, participants);
            clients.ForEach(c => c.Dispose());
            keys.ForEach(k => k.Dispose());
            await server.DisposeAsync();
        }
    }

    [Fact]
    public void A_reconstruction_of_another_round_or_session_is_not_committed()
    {
        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        var random = new SeededRandomSource(8);
        string[] ids = ["a", "b", "c"];
        var keys = ids.Select(_ => IdentityKeyPair.Generate(random)).ToArray();
        try
        {
            var rounds = new RoundOptions(3, ClientSampling.OfCount(3), TimeSpan.FromSeconds(10), 2, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 100);
            var host = new SecAggRoundHost(new SecureAggregationSettings(TimeSpan.FromSeconds(2)), rounds, clock, random);
            host.Begin(new RoundTicket(0, ids, clock.UtcNow, clock.UtcNow + rounds.CollectTimeout), 4, id => keys[Array.IndexOf(ids, id)].PublicKey.ToBytes(), null);
            Assert.Equal(new SecAggStatus("advertise-keys", 0, 3, clock.UtcNow + rounds.CollectTimeout), host.Status());
            Assert.Null(host.PendingReconstruction);

            // A finished in-memory round 0 of another session: its reconstruction is not this round's.
            var options = new SecAggOptions(3, 2, 5);
            var session = new SecAggSession("other-session", 0, options, keys.Select(k => k.PublicKey).ToArray(), new byte[32]);
            var server = new SecAggServer(session, new SeededRandomSource(1));
            var clients = Enumerable.Range(0, 3).Select(u => new SecAggClient(session, u, keys[u], new ulong[5], new SeededRandomSource((ulong)u))).ToArray();
            var inbox = clients.Select(c => (SecAggServerMessage?)null).ToArray();
            for (var stage = SecAggStage.AdvertiseKeys; stage <= SecAggStage.Unmasking; stage++)
            {
                for (int u = 0; u < 3; u++)
                {
                    server.Receive(stage == SecAggStage.AdvertiseKeys ? clients[u].AdvertiseKeys() : clients[u].Handle(inbox[u]!));
                }

                if (stage == SecAggStage.Unmasking)
                {
                    break;
                }

                foreach (var m in server.CloseStage())
                {
                    inbox[m.Recipient] = m;
                }
            }

            var foreign = server.BeginReconstruction();
            foreign.Run();
            Assert.False(host.Commit(foreign));
            Assert.True(host.IsRunning);
            Assert.Null(host.Poll());
            Assert.Equal("advertise-keys", host.Status()!.Stage);
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
        finally
        {
            foreach (var k in keys)
            {
                k.Dispose();
            }
        }
    }

    /// <summary>Trains only once the gate opens (holds a secure round in AdvertiseKeys).</summary>
    private sealed class GatedTrainer(ILocalTrainer inner, ManualResetEventSlim gate) : ILocalTrainer
    {
        public LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken)
        {
            gate.Wait(cancellationToken);
            return inner.Train(global, settings, round, cancellationToken);
        }

        public LocalEvaluation? Evaluate(ModelParameters model) => inner.Evaluate(model);
    }
}
