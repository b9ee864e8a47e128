using Confide.Client;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>Secure aggregation between a real server and real clients on 127.0.0.1.</summary>
public sealed class SecAggOverTheWireTests
{
    private static readonly SecureAggregationSettings Secure = new(TimeSpan.FromSeconds(10)) { PollInterval = TimeSpan.FromMilliseconds(20) };

    private static async Task<(List<FederationClient> Clients, List<IdentityKeyPair> Keys)> EnrollAsync(ConfideServer server, int count)
    {
        var clients = new List<FederationClient>();
        var keys = new List<IdentityKeyPair>();
        for (int i = 0; i < count; i++)
        {
            var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(700 + i)));
            keys.Add(key);
            var options = new FederationClientOptions(server.Address, server.CertificateFingerprint) { CallTimeout = TimeSpan.FromSeconds(10), TransferTimeout = TimeSpan.FromSeconds(20) };
            var client = new FederationClient(options, key);
            await client.EnrollAsync(server.IssueToken());
            clients.Add(client);
        }

        return (clients, keys);
    }

    private static void DisposeAll(List<FederationClient> clients, List<IdentityKeyPair> keys)
    {
        clients.ForEach(c => c.Dispose());
        keys.ForEach(k => k.Dispose());
    }

    private static ModelParameters Delta(int index, ModelParameters global, long round)
    {
        var delta = DeterministicTrainer.Train(index, global, round);
        System.Numerics.Tensors.TensorPrimitives.Subtract(delta.AsSpan(), global.AsSpan(), delta.AsSpan());
        return delta;
    }

    [Fact]
    public async Task Several_rounds_with_secagg_and_dp_match_the_same_run_in_memory()
    {
        var dp = DpFedAvgOptions.Fixed(noiseMultiplier: 1.0, clipNorm: 0.5, expectedClientsPerRound: 4, population: 4, ClippingPlacement.Client);
        var budget = new PrivacyBudget(1000, 1e-5);
        var rounds = new RoundOptions(3, ClientSampling.OfCount(4), TimeSpan.FromSeconds(20), 3, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000, privacy: dp);
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { PrivacyBudget = budget, SecureAggregation = Secure };
        var server = await ConfideServer.StartAsync(options, noise: new GaussianNoise(new SeededRandomSource(42)));
        var (clients, keys) = await EnrollAsync(server, 4);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var reasons = await Task.WhenAll(clients.Select((c, i) => Task.Run(() =>
                new FederatedParticipant(c, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"secagg-{i}.progress")))
                    .RunAsync(cts.Token))));
            Assert.All(reasons, r => Assert.Equal("rounds-completed", r));
            var stored = server.Store.ListRounds();
            Assert.Equal(3, stored.Count);
            Assert.All(stored, r => Assert.Equal("aggregated", r.Status));
            Assert.All(stored, r => Assert.Equal(4, r.Accepted.Count));
            Assert.All(stored, r => Assert.Empty(r.Stragglers));

            // The same run in memory: exact clipped sums instead of the unmasked quantized sum, and the same noise stream.
            var ids = clients.Select(c => c.ClientId!).ToArray();
            var indexOf = ids.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
            var ledger = new PrivacyLedger(budget);
            var coordinator = new RoundCoordinator(rounds, TestFederation.InitialModel(), 0, ledger, new GaussianNoise(new SeededRandomSource(42)), new SeededRandomSource(1), new FakeClock(DateTimeOffset.UnixEpoch));
            while (coordinator.Stage != RoundStage.Finished)
            {
                var ticket = coordinator.TryStartRound(ids)!;
                var global = coordinator.GlobalModel;
                var sum = new double[global.Layout.TotalLength];
                foreach (var id in ticket.Participants)
                {
                    var delta = Delta(indexOf[id], global, ticket.Round);
                    L2Clipping.Clip(delta.AsSpan(), dp.ClipNorm);
                    for (int j = 0; j < sum.Length; j++)
                    {
                        sum[j] += delta.AsSpan()[j];
                    }
                }

                coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome(ticket.Participants, sum, ticket.Participants.Count, [], null));
            }

            Assert.Equal(3, ledger.Releases.Count);
            Assert.Equal(ledger.Spent.Epsilon, stored[^1].Epsilon!.Value, 12);
            // Quantization error on each sum is below n / s = 4 / 2^29; what remains is float rounding. The noise
            // (σ = zC/m = 0.125 per coordinate) would show as differences of order 0.1 if the runs diverged.
            var expected = coordinator.GlobalModel.AsSpan().ToArray();
            var actual = server.GlobalModel.AsSpan().ToArray();
            Assert.NotEqual(TestFederation.InitialModel().AsSpan().ToArray(), actual);
            for (int j = 0; j < expected.Length; j++)
            {
                Assert.InRange(actual[j] - expected[j], -1e-5f, 1e-5f);
            }
        }
        finally
        {
            DisposeAll(clients, keys);
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_client_that_drops_after_share_keys_is_a_dropout_and_the_sum_of_the_others_is_recovered()
    {
        var rounds = new RoundOptions(1, ClientSampling.OfCount(4), TimeSpan.FromSeconds(20), 3, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000);
        await using var federation = new TestFederation();
        var settings = new SecureAggregationSettings(TimeSpan.FromSeconds(1)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { SecureAggregation = settings };
        var server = await ConfideServer.StartAsync(options);
        var (clients, keys) = await EnrollAsync(server, 4);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await Task.WhenAll(clients.Select((c, i) => Task.Run(() =>
                new FederatedParticipant(c, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"drop-{i}.progress")))
                {
                    VanishBeforeSecAggStage = i == 3 ? SecAggStage.MaskedInputCollection : null,
                }.RunAsync(cts.Token))));

            var round = Assert.Single(server.Store.ListRounds());
            Assert.Equal("aggregated", round.Status);
            string dropped = clients[3].ClientId!;
            Assert.Equal([dropped], round.Stragglers);
            Assert.Equal(3, round.Accepted.Count);
            Assert.DoesNotContain(dropped, round.Accepted);

            // The weighted mean of the three survivors, within the quantizer's bound (n / (s·Σw) ≈ 2·10⁻⁶ here) plus float rounding.
            var global = TestFederation.InitialModel();
            var expected = global.AsSpan().ToArray();
            double totalWeight = 0;
            var sum = new double[expected.Length];
            for (int i = 0; i < 3; i++)
            {
                var delta = Delta(i, global, 0).AsSpan();
                long w = DeterministicTrainer.Samples(i);
                totalWeight += w;
                for (int j = 0; j < sum.Length; j++)
                {
                    sum[j] += w * Math.Clamp(delta[j], -settings.ClipRange, settings.ClipRange);
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
            DisposeAll(clients, keys);
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Too_few_survivors_abort_the_round_with_a_recorded_reason_naming_the_stage_and_the_counts()
    {
        var rounds = new RoundOptions(1, ClientSampling.OfCount(3), TimeSpan.FromSeconds(20), 2, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000);
        await using var federation = new TestFederation();
        var settings = new SecureAggregationSettings(TimeSpan.FromSeconds(1)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { SecureAggregation = settings };
        var server = await ConfideServer.StartAsync(options);
        var (clients, keys) = await EnrollAsync(server, 3);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var participants = clients.Select((c, i) =>
                new FederatedParticipant(c, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"abort-{i}.progress")))
                {
                    VanishBeforeSecAggStage = i == 0 ? null : SecAggStage.MaskedInputCollection,
                }).ToArray();
            await Task.WhenAll(participants.Select(p => Task.Run(() => p.RunAsync(cts.Token))));

            var round = Assert.Single(server.Store.ListRounds());
            Assert.Equal("failed", round.Status);
            Assert.Contains("aborted in stage MaskedInputCollection", round.FailureReason, StringComparison.Ordinal);
            Assert.Contains("1 of 3 clients", round.FailureReason, StringComparison.Ordinal);
            Assert.Empty(round.Accepted);
            Assert.Equal(TestFederation.InitialModel().AsSpan().ToArray(), server.GlobalModel.AsSpan().ToArray());
            Assert.All(participants, p => Assert.Equal(0, p.SubmittedRounds));
        }
        finally
        {
            DisposeAll(clients, keys);
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Out_of_stage_and_malformed_secagg_messages_are_refused_with_a_status_and_a_reason()
    {
        var rounds = new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(30), 2, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000);
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { SecureAggregation = Secure };
        var server = await ConfideServer.StartAsync(options);
        var (clients, keys) = await EnrollAsync(server, 2);
        try
        {
            await clients[1].FetchTaskAsync(-1);
            var task = await EndToEndTests.WaitForTrainAsync(clients[0]);
            var setup = task.SecureAggregation;
            Assert.NotNull(setup);
            Assert.Equal(2, setup.Roster.Count);
            Assert.Equal(TestFederation.Layout.TotalLength + 1, setup.Dimension);
            var a = clients[0];
            SecAggRequest Request() => new() { Round = task.Round, SessionId = setup.SessionId };

            // A plain update is refused: this server takes updates only through the SecAgg stages.
            var plain = await Assert.ThrowsAsync<RpcException>(() => a.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, Safetensors.Write(TestFederation.InitialModel()), 10, 0.1));
            Assert.Equal(StatusCode.FailedPrecondition, plain.StatusCode);

            // Out of stage: a masked input while AdvertiseKeys is open.
            var masked = Request();
            masked.MaskedInput = new MaskedInput { Masked = ByteString.CopyFrom(new byte[4 * setup.Dimension]) };
            await Refused(() => a.SecAggAsync(masked), StatusCode.FailedPrecondition, "out of stage");

            // Malformed: a short key, a missing stage, a share for a stranger, a masked input of the wrong size.
            var shortKey = Request();
            shortKey.AdvertiseKeys = new AdvertiseKeys { EncryptionPublicKey = ByteString.CopyFrom(new byte[32]), MaskPublicKey = ByteString.CopyFrom(new byte[31]), Signature = ByteString.CopyFrom(new byte[64]) };
            await Refused(() => a.SecAggAsync(shortKey), StatusCode.InvalidArgument, "advertise_keys.mask_public_key has 31 bytes");
            await Refused(() => a.SecAggAsync(Request()), StatusCode.InvalidArgument, "no stage message");
            var stranger = Request();
            stranger.ShareKeys = new ShareKeys { Shares = { new EncryptedShareBundle { FromClientId = a.ClientId, ToClientId = "nobody", Ciphertext = ByteString.CopyFrom([1]) } } };
            await Refused(() => a.SecAggAsync(stranger), StatusCode.InvalidArgument, "'nobody' is not in this round's roster");
            var wrongSize = Request();
            wrongSize.MaskedInput = new MaskedInput { Masked = ByteString.CopyFrom(new byte[3]) };
            await Refused(() => a.SecAggAsync(wrongSize), StatusCode.InvalidArgument, "masked_input.masked has 3 bytes");

            // Well-formed keys with a signature that is not the client's: the protocol refuses them.
            var forged = Request();
            forged.AdvertiseKeys = new AdvertiseKeys
            {
                EncryptionPublicKey = ByteString.CopyFrom(AgreementKeyPair.Generate(new SeededRandomSource(1)).PublicKey.ToBytes()),
                MaskPublicKey = ByteString.CopyFrom(AgreementKeyPair.Generate(new SeededRandomSource(2)).PublicKey.ToBytes()),
                Signature = ByteString.CopyFrom(new byte[64]),
            };
            await Refused(() => a.SecAggAsync(forged), StatusCode.InvalidArgument, "not signed by its Ed25519 identity key");

            // Another session (a restarted or aborted round) and another round.
            var otherSession = Request();
            otherSession.SessionId = "round-0-stale";
            otherSession.Poll = new SecAggPoll();
            await Refused(() => a.SecAggAsync(otherSession), StatusCode.FailedPrecondition, "not the session of round");
            var otherRound = Request();
            otherRound.Round = task.Round + 5;
            otherRound.Poll = new SecAggPoll();
            await Refused(() => a.SecAggAsync(otherRound), StatusCode.FailedPrecondition, "no secure-aggregation round");

            // The signature is checked before anything in the body is looked at: a body that does not match is unauthenticated.
            var poll = Request();
            poll.Poll = new SecAggPoll();
            var tampered = await Assert.ThrowsAsync<RpcException>(() => a.Raw.SecAggAsync(poll, a.Signed("SecAgg", shortKey.ToByteArray(), TimeSpan.FromSeconds(10), default)).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, tampered.StatusCode);

            // A poll before the client advertised: nothing to hand out yet.
            var wait = await a.SecAggAsync(poll);
            Assert.Equal(SecAggResponse.NextOneofCase.None, wait.NextCase);
            Assert.True(wait.RetryAfterMs > 0);
            Assert.Equal("", wait.Outcome);
        }
        finally
        {
            DisposeAll(clients, keys);
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_secure_round_interrupted_by_a_restart_is_aborted_and_the_next_round_reruns_it()
    {
        var rounds = new RoundOptions(2, ClientSampling.OfCount(2), TimeSpan.FromSeconds(30), 2, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 10_000);
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, rounds) with { SecureAggregation = Secure };
        var server = await ConfideServer.StartAsync(options);
        var (clients, keys) = await EnrollAsync(server, 2);
        string[] ids = clients.Select(c => c.ClientId!).ToArray();
        await clients[1].FetchTaskAsync(-1);
        var task = await EndToEndTests.WaitForTrainAsync(clients[0]);
        Assert.Equal(0, task.Round);
        DisposeAll(clients, keys);
        await server.DisposeAsync();

        var again = await ConfideServer.StartAsync(options);
        try
        {
            var round = Assert.Single(again.Store.ListRounds());
            Assert.Equal("failed", round.Status);
            Assert.Contains("interrupted by a server restart", round.FailureReason, StringComparison.Ordinal);
            Assert.Equal(1, again.FailedRounds);
            Assert.Equal(TestFederation.InitialModel().AsSpan().ToArray(), again.GlobalModel.AsSpan().ToArray());
            Assert.Equal(RoundStage.WaitingForClients, again.Stage);
            Assert.Equal(ids.Order(StringComparer.Ordinal), round.Participants);
        }
        finally
        {
            await again.DisposeAsync();
        }
    }

    [Fact]
    public void The_receive_limit_grows_to_fit_a_masked_input_only_with_secure_aggregation()
    {
        var layout = ParameterLayout.Create(("w", [1_000_000]));
        var rounds = new RoundOptions(1, ClientSampling.OfCount(2), TimeSpan.FromSeconds(30), 2, new Aggregation.AggregatorSettings("fedavg"));
        var plain = new ServerOptions("unused", rounds, ModelParameters.Zeros(layout));
        Assert.Equal(plain.MaxMessageBytes, Internal.SecAggRoundHost.MaxReceiveBytes(plain));
        var secure32 = plain with { SecureAggregation = new SecureAggregationSettings(TimeSpan.FromSeconds(1)) };
        Assert.Equal((1_000_001 * 4) + (64 << 10), Internal.SecAggRoundHost.MaxReceiveBytes(secure32));
        var secure48 = plain with { SecureAggregation = new SecureAggregationSettings(TimeSpan.FromSeconds(1), modulusBits: 48) };
        Assert.Equal((1_000_001 * 8) + (64 << 10), Internal.SecAggRoundHost.MaxReceiveBytes(secure48));
    }

    private static async Task Refused(Func<Task> call, StatusCode expected, string messagePart)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(expected, ex.StatusCode);
        Assert.Contains(messagePart, ex.Status.Detail, StringComparison.Ordinal);
    }
}
