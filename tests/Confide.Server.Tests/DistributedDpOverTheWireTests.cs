using Confide.Client;
using Confide.Client.Internal;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;

namespace Confide.Server.Tests;

/// <summary>
/// Distributed DP over the wire (Kairouz, Liu, Steinke 2021): real clients on 127.0.0.1 add their own discrete Gaussian
/// noise before masking; the server adds none, decodes the sum and charges the ledger.
/// </summary>
public sealed class DistributedDpOverTheWireTests
{
    private const double Clip = 0.5;
    private static readonly SecureAggregationSettings Secure = new(TimeSpan.FromSeconds(10)) { PollInterval = TimeSpan.FromMilliseconds(20) };

    private static (RoundOptions Rounds, DistributedDpPlan Plan) Options(long rounds, int clients, int minimumSurvivors, int minUpdates)
    {
        var plan = DistributedDpPlan.ForNoiseMultiplier(Clip, clients, minimumSurvivors, TestFederation.Layout.TotalLength, 32, DistributedDpPlan.DefaultRoundingBeta, 1.0);
        var dp = DpFedAvgOptions.Fixed(plan.EffectiveNoiseMultiplier, Clip, clients, population: 8, ClippingPlacement.Client);
        var options = new RoundOptions(rounds, ClientSampling.OfCount(clients), TimeSpan.FromSeconds(20), minUpdates, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000, privacy: dp)
        {
            DistributedPrivacy = plan,
        };
        return (options, plan);
    }

    private static async Task<List<FederationClient>> EnrollAsync(ConfideServer server, List<IdentityKeyPair> keys, int count)
    {
        var clients = new List<FederationClient>();
        for (int i = 0; i < count; i++)
        {
            var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(800 + i)));
            keys.Add(key);
            var client = new FederationClient(new FederationClientOptions(server.Address, server.CertificateFingerprint) { CallTimeout = TimeSpan.FromSeconds(10), TransferTimeout = TimeSpan.FromSeconds(20) }, key);
            await client.EnrollAsync(server.IssueToken());
            clients.Add(client);
        }

        return clients;
    }

    private static IRandomSource ClientRandom(int index) => new SeededRandomSource((ulong)(900 + index));

    [Fact]
    public async Task Clients_noise_their_own_updates_and_the_run_matches_the_same_computation_in_memory()
    {
        var (rounds, plan) = Options(3, 4, minimumSurvivors: 3, minUpdates: 3);
        var budget = new PrivacyBudget(1000, 1e-5);
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { PrivacyBudget = budget, SecureAggregation = Secure };

        // The server's own Gaussian source must stay unused: this one throws if it is asked for noise.
        var server = await ConfideServer.StartAsync(options, noise: new ThrowingNoise());
        var keys = new List<IdentityKeyPair>();
        var clients = await EnrollAsync(server, keys, 4);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var reasons = await Task.WhenAll(clients.Select((c, i) => Task.Run(() =>
                new FederatedParticipant(c, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"ddp-{i}.progress")))
                {
                    Random = ClientRandom(i),
                    MinimumDistributedNoise = 0.9,
                }.RunAsync(cts.Token))));
            Assert.All(reasons, r => Assert.Equal("rounds-completed", r));
            var stored = server.Store.ListRounds();
            Assert.Equal(3, stored.Count);
            Assert.All(stored, r => Assert.Equal("aggregated", r.Status));
            Assert.All(stored, r => Assert.Equal(4, r.Accepted.Count));

            // The same computation in memory: each client clips, rounds and noises with the same seeded source, the
            // encodings are summed in Z_2^32 (what secure aggregation recovers exactly) and decoded with the plan.
            var ids = clients.Select(c => c.ClientId!).ToArray();
            var indexOf = ids.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
            var ledger = new PrivacyLedger(budget);
            var coordinator = new RoundCoordinator(rounds, TestFederation.InitialModel(), 0, ledger, new ThrowingNoise(), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
            var noiseSeen = new List<double>();
            while (coordinator.Stage != RoundStage.Finished)
            {
                var ticket = coordinator.TryStartRound(ids)!;
                var global = coordinator.GlobalModel;
                var total = new ulong[StochasticQuantizer.EncodedLength(global.Layout.TotalLength)];
                var clippedSum = new double[global.Layout.TotalLength];
                foreach (var id in ticket.Participants)
                {
                    int i = indexOf[id];
                    var delta = DeterministicTrainer.Train(i, global, ticket.Round).AsSpan().ToArray();
                    System.Numerics.Tensors.TensorPrimitives.Subtract(delta, global.AsSpan(), delta);
                    L2Clipping.Clip(delta, Clip); // the participant clips to the task's clip norm…
                    L2Clipping.Clip(delta, Clip); // …and the SecAgg client to the setup's, as on the wire
                    ulong[] encoded = plan.Encode(delta, SecAggWireClient.NoiseRandom(ClientRandom(i), ticket.Round));
                    for (int j = 0; j < total.Length; j++)
                    {
                        total[j] = unchecked(total[j] + encoded[j]) & 0xFFFF_FFFFUL;
                    }

                    for (int j = 0; j < clippedSum.Length; j++)
                    {
                        clippedSum[j] += delta[j];
                    }
                }

                var sum = new double[global.Layout.TotalLength];
                Assert.Equal(4, plan.Quantizer.DequantizeSum(total, sum));
                noiseSeen.AddRange(sum.Select((v, j) => v - clippedSum[j]));
                coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(ticket.Participants, sum, 4, [], null));
            }

            // The server's model is the in-memory one, bit for bit.
            Assert.Equal(coordinator.GlobalModel.AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());

            // The sums really were noised: 4 clients' N_Z(0, σ²) in quanta is a spread of 2σ/s per coordinate.
            double spread = 2 * plan.ClientSigma / plan.Scale;
            double rms = Math.Sqrt(noiseSeen.Average(v => v * v));
            Assert.InRange(rms, 0.5 * spread, 1.5 * spread);

            // The ledger: three distributed releases, credited with n_min = 3 of the 4 survivors' noise, at q = 4/8.
            var saved = server.Store.LoadLedger()!;
            Assert.Equal(3, saved.Releases.Count);
            Assert.All(saved.Releases, r => Assert.Equal(DistributedDpPlan.MechanismName, r.Mechanism));
            var expected = DistributedDiscreteGaussian.GetPrivacySpent(Enumerable.Repeat(plan.Release(4, 0.5), 3), 1e-5).Epsilon;
            Assert.Equal(expected, saved.Spent.Epsilon, 9);
            Assert.Equal(expected, stored[^1].Epsilon!.Value, 9);
            Assert.Equal(ledger.Spent.Epsilon, saved.Spent.Epsilon, 12);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            keys.ForEach(k => k.Dispose());
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Fewer_survivors_than_the_noise_is_calibrated_for_fail_the_round_and_charge_nothing()
    {
        // n_min = 4 of 4: one client vanishing before its masked input leaves 3 noise shares, too few to release.
        var (rounds, _) = Options(1, 4, minimumSurvivors: 4, minUpdates: 3);
        await using var federation = new TestFederation();
        var settings = new SecureAggregationSettings(TimeSpan.FromSeconds(1)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { PrivacyBudget = new PrivacyBudget(1000, 1e-5), SecureAggregation = settings };
        var server = await ConfideServer.StartAsync(options, noise: new ThrowingNoise());
        var keys = new List<IdentityKeyPair>();
        var clients = await EnrollAsync(server, keys, 4);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var participants = clients.Select((c, i) =>
                new FederatedParticipant(c, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"few-{i}.progress")))
                {
                    Random = ClientRandom(i),
                    VanishBeforeSecAggStage = i == 3 ? SecAggStage.MaskedInputCollection : null,
                }).ToArray();
            await Task.WhenAll(participants.Select(p => Task.Run(() => p.RunAsync(cts.Token))));

            var round = Assert.Single(server.Store.ListRounds());
            Assert.Equal("failed", round.Status);
            Assert.Contains("aborted in stage ConsistencyCheck", round.FailureReason, StringComparison.Ordinal);
            // The server stops the round when MaskedInput closes short of n_min, and says why.
            Assert.Contains("only 3 masked inputs arrived, fewer than the 4 survivors the distributed DP noise is calibrated for", round.FailureReason, StringComparison.Ordinal);
            Assert.Equal(TestFederation.InitialModel().AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());
            Assert.Empty(server.Store.LoadLedger()!.Releases);
            Assert.Equal(0, round.Epsilon ?? 0);

            // The honest survivors refused to sign a three-client survivor list, so the server could not unmask it.
            Assert.All(participants, p => Assert.Equal(0, p.SubmittedRounds));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            keys.ForEach(k => k.Dispose());
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_ledger_survives_a_restart_and_the_server_stops_before_the_round_that_would_pass_the_budget()
    {
        // A budget for exactly three released rounds (n_min = 3 shares each), and runs configured for 2, then 5 rounds.
        var (_, plan) = Options(1, 3, minimumSurvivors: 3, minUpdates: 3);
        double threeRounds = DistributedDiscreteGaussian.GetPrivacySpent(Enumerable.Repeat(plan.Release(3, 3.0 / 8), 3), 1e-5).Epsilon;
        var budget = new PrivacyBudget(threeRounds * 1.000001, 1e-5);
        await using var federation = new TestFederation();
        ServerOptions ServerOptions(long rounds) => TestFederation.Options(federation.StateDirectory, Options(rounds, 3, 3, 3).Rounds) with { PrivacyBudget = budget, SecureAggregation = Secure };

        async Task RunAsync(IEnumerable<(FederationClient Client, int Index)> clients)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await Task.WhenAll(clients.Select(c => Task.Run(() =>
                new FederatedParticipant(c.Client, new DeterministicTrainer(c.Index), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"restart-{c.Index}.progress")))
                {
                    Random = ClientRandom(c.Index),
                    InitialBackoff = TimeSpan.FromMilliseconds(50),
                }.RunAsync(cts.Token))));
        }

        await federation.StartAsync(ServerOptions(2), new ThrowingNoise());
        var enrolled = new List<(IdentityKeyPair Key, string Id, int Index)>();
        for (int i = 0; i < 3; i++)
        {
            var (client, key) = await federation.EnrollAsync(i);
            enrolled.Add((key, client.ClientId!, i));
        }

        await RunAsync(enrolled.Select(e => (federation.Connect(e.Key, e.Id), e.Index)));
        Assert.Equal(2, federation.Server!.Store.LoadLedger()!.Releases.Count);
        await federation.StopAsync();

        var server = await federation.StartAsync(ServerOptions(5), new ThrowingNoise());
        await RunAsync(enrolled.Select(e => (federation.Connect(e.Key, e.Id), e.Index)));
        Assert.Equal(StopReason.PrivacyBudgetExhausted, server.StopReason);
        var ledger = server.Store.LoadLedger()!;
        Assert.Equal(3, ledger.Releases.Count);
        Assert.All(ledger.Releases, r => Assert.Equal(3, r.Distributed!.NoiseShares));
        Assert.Equal(threeRounds, ledger.Spent.Epsilon, 9);
        Assert.Equal(3, server.Store.ListRounds().Count(r => r.Status == "aggregated"));
    }

    /// <summary>A Gaussian source that fails the test if the server draws from it.</summary>
    private sealed class ThrowingNoise : IGaussianNoise
    {
        public void AddTo(Span<float> values, double standardDeviation) =>
            throw new InvalidOperationException("The server drew Gaussian noise under distributed DP.");

        public void Fill(Span<double> destination, double standardDeviation) =>
            throw new InvalidOperationException("The server drew Gaussian noise under distributed DP.");
    }
}
