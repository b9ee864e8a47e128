using Confide.Client;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Confide.Updates;

namespace Confide.Server.Tests;

public sealed class PrivacyOverTheWireTests
{
    // q = 3/3, z = 2, C = 0.5, ε budget 6 at δ = 1e-5: a handful of rounds fit, so the run must stop on the budget.
    private static readonly DpFedAvgOptions Dp = DpFedAvgOptions.Fixed(noiseMultiplier: 2.0, clipNorm: 0.5, expectedClientsPerRound: 3, population: 3, ClippingPlacement.Client);
    private static readonly PrivacyBudget Budget = new(6.0, 1e-5);

    private static RoundOptions Options() =>
        new(1000, ClientSampling.OfCount(3), TimeSpan.FromSeconds(20), 3, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000, privacy: Dp);

    [Fact]
    public async Task Dp_fedavg_over_the_wire_stops_on_the_budget_and_matches_the_in_memory_run()
    {
        await using var federation = new TestFederation();
        var serverOptions = TestFederation.Options(federation.StateDirectory, Options()) with { PrivacyBudget = Budget };
        var server = await ConfideServer.StartAsync(serverOptions, noise: new GaussianNoise(new SeededRandomSource(42)));
        try
        {
            var clients = new List<FederationClient>();
            var keys = new List<IdentityKeyPair>();
            for (int i = 0; i < 3; i++)
            {
                var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(500 + i)));
                keys.Add(key);
                var client = new FederationClient(new FederationClientOptions(server.Address, server.CertificateFingerprint), key);
                await client.EnrollAsync(server.IssueToken());
                clients.Add(client);
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            var reasons = await Task.WhenAll(clients.Select((c, i) => Task.Run(() =>
                new FederatedParticipant(c, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"dp-{i}.progress")))
                    .RunAsync(cts.Token))));
            Assert.All(reasons, r => Assert.Equal("privacy-budget-exhausted", r));
            Assert.Equal(StopReason.PrivacyBudgetExhausted, server.StopReason);

            var status = await clients[0].GetStatusAsync();
            Assert.InRange(status.EpsilonSpent, 0.1, Budget.MaxEpsilon);
            Assert.Equal(Budget.MaxEpsilon, status.MaxEpsilon);
            var rounds = server.Store.ListRounds();
            Assert.InRange(rounds.Count, 2, 100);
            Assert.All(rounds, r => Assert.Equal("aggregated", r.Status));
            Assert.Equal(status.EpsilonSpent, rounds[^1].Epsilon!.Value, 12);

            // The same run in memory, with the same noise stream and the same client-side clipping.
            var ids = clients.Select(c => c.ClientId!).ToArray();
            var indexOf = ids.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
            var ledger = new PrivacyLedger(Budget);
            var coordinator = new RoundCoordinator(Options(), TestFederation.InitialModel(), 0, ledger, new GaussianNoise(new SeededRandomSource(42)), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
            while (coordinator.Stage != RoundStage.Finished)
            {
                var ticket = coordinator.TryStartRound(ids)!;
                foreach (var id in ticket.Participants)
                {
                    var global = coordinator.GlobalModel;
                    var delta = DeterministicTrainer.Train(indexOf[id], global, ticket.Round);
                    System.Numerics.Tensors.TensorPrimitives.Subtract(delta.AsSpan(), global.AsSpan(), delta.AsSpan());
                    L2Clipping.Clip(delta.AsSpan(), Dp.ClipNorm);
                    Assert.True(coordinator.Submit(ticket.Round, new ClientUpdate(id, delta, DeterministicTrainer.Samples(indexOf[id]))).IsAccepted);
                }

                coordinator.Poll();
            }

            Assert.Equal(rounds.Count, ledger.Releases.Count);
            Assert.Equal(coordinator.GlobalModel.AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());
            foreach (var c in clients)
            {
                c.Dispose();
            }

            foreach (var k in keys)
            {
                k.Dispose();
            }
        }
        finally
        {
            await server.DisposeAsync();
        }

        // The ledger is durable: a restart resumes finished, with the same ε.
        await using var again = await ConfideServer.StartAsync(serverOptions);
        Assert.Equal(StopReason.PrivacyBudgetExhausted, again.StopReason);
    }
}
