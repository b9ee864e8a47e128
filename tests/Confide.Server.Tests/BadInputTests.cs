using System.Security.Cryptography;
using Confide.Client;
using Confide.Parameters;
using Confide.Protocol.Authentication;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>
/// Every bad input from the issue, against one running server: each is refused with a gRPC status and a message
/// saying why, content rejections are recorded with their reason, and the server keeps serving throughout.
/// </summary>
public sealed class BadInputTests
{
    private static async Task<RpcException> Refused(Func<Task> call, StatusCode expected, string messagePart)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(expected, ex.StatusCode);
        Assert.Contains(messagePart, ex.Status.Detail, StringComparison.OrdinalIgnoreCase);
        return ex;
    }

    private static byte[] Delta(float value, ParameterLayout? layout = null)
    {
        layout ??= TestFederation.Layout;
        return Safetensors.Write(new ModelParameters(layout, Enumerable.Repeat(value, layout.TotalLength).ToArray()));
    }

    [Fact]
    public async Task Each_bad_input_is_refused_with_a_status_and_a_reason_and_the_server_keeps_serving()
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 6, deadline: TimeSpan.FromSeconds(30), minUpdates: 1));
        var participants = new List<FederationClient>();
        var keys = new List<IdentityKeyPair>();
        for (int i = 0; i < 6; i++)
        {
            var (client, key) = await federation.EnrollAsync(i);
            participants.Add(client);
            keys.Add(key);
            await client.FetchTaskAsync(-1);
        }

        var task = await EndToEndTests.WaitForTrainAsync(participants[0]);
        long round = task.Round;
        string layout = task.LayoutFingerprint;
        var good = participants[0];

        // --- Enrollment ---
        string used = server.IssueToken();
        using var freshKey = IdentityKeyPair.Generate(new SeededRandomSource(77));
        var fresh = federation.Connect(freshKey);
        await fresh.EnrollAsync(used);
        using var otherKey = IdentityKeyPair.Generate(new SeededRandomSource(78));
        await Refused(() => federation.Connect(otherKey).EnrollAsync(used), StatusCode.PermissionDenied, "already been used");
        await Refused(() => federation.Connect(keys[0]).EnrollAsync(server.IssueToken()), StatusCode.PermissionDenied, "already enrolled");
        await Refused(() => federation.Connect(otherKey).EnrollAsync("not-a-token"), StatusCode.PermissionDenied, "not known");
        var forged = new EnrollRequest { Token = server.IssueToken(), PublicKey = ByteString.CopyFrom(otherKey.PublicKey.ToBytes()), Proof = ByteString.CopyFrom(new byte[64]) };
        await Refused(async () => await good.Raw.EnrollAsync(forged), StatusCode.Unauthenticated, "proof");

        // --- Request authentication, all before any body is looked at ---
        using var strangerKey = IdentityKeyPair.Generate(new SeededRandomSource(79));
        await Refused(() => federation.Connect(strangerKey, "c-0000000000000000").FetchTaskAsync(-1), StatusCode.Unauthenticated, "unknown client");
        await Refused(() => federation.Connect(strangerKey, good.ClientId).FetchTaskAsync(-1), StatusCode.Unauthenticated, "signature does not verify");

        var request = new FetchTaskRequest { LastRound = -1 };
        var tampered = good.Signed("FetchTask", request.ToByteArray(), TimeSpan.FromSeconds(10), default, h =>
        {
            string sig = h.GetValue(RequestSignature.SignatureHeader)!;
            h.Remove(h.Get(RequestSignature.SignatureHeader)!);
            h.Add(RequestSignature.SignatureHeader, (sig[0] == '0' ? "1" : "0") + sig[1..]);
        });
        await Refused(async () => await good.Raw.FetchTaskAsync(request, tampered), StatusCode.Unauthenticated, "signature does not verify");

        var once = good.Signed("FetchTask", request.ToByteArray(), TimeSpan.FromSeconds(10), default);
        Assert.Equal(round, (await good.Raw.FetchTaskAsync(request, once)).Round);
        await Refused(async () => await good.Raw.FetchTaskAsync(request, once), StatusCode.Unauthenticated, "nonce has already been used");

        var past = new FakeClock(DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10));
        await Refused(() => federation.Connect(keys[0], good.ClientId, past).FetchTaskAsync(-1), StatusCode.Unauthenticated, "timestamp");

        var otherBody = good.Signed("FetchTask", new FetchTaskRequest { LastRound = 5 }.ToByteArray(), TimeSpan.FromSeconds(10), default);
        await Refused(async () => await good.Raw.FetchTaskAsync(request, otherBody), StatusCode.Unauthenticated, "does not match");

        var wrongMethod = good.Signed("ReportMetrics", request.ToByteArray(), TimeSpan.FromSeconds(10), default);
        await Refused(async () => await good.Raw.FetchTaskAsync(request, wrongMethod), StatusCode.Unauthenticated, "signature does not verify");

        await Refused(async () => await good.Raw.FetchTaskAsync(request), StatusCode.Unauthenticated, "missing request metadata");

        // --- Malformed protobuf: bytes that do not parse as FetchTaskRequest ---
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "confide.v1.Federation", "FetchTask", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        byte[] garbage = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01];
        var malformed = await Assert.ThrowsAsync<RpcException>(async () =>
            await good.Channel.CreateCallInvoker().AsyncUnaryCall(raw, null, good.Signed("FetchTask", garbage, TimeSpan.FromSeconds(10), default), garbage));
        // The service's request marshallers answer a body that does not parse (MalformedRequestTests covers every RPC).
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);
        Assert.Contains("malformed protobuf", malformed.Status.Detail, StringComparison.OrdinalIgnoreCase);

        // In the update stream the service reads each message itself and says what is wrong.
        var rawStream = new Method<byte[], byte[]>(MethodType.ClientStreaming, "confide.v1.Federation", "SubmitUpdate", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        using (var streamCall = good.Channel.CreateCallInvoker().AsyncClientStreamingCall(rawStream, null, good.SignedWithHash("SubmitUpdate", new byte[32], TimeSpan.FromSeconds(10), default, null)))
        {
            await streamCall.RequestStream.WriteAsync(garbage);
            await streamCall.RequestStream.CompleteAsync();
            await Refused(() => streamCall.ResponseAsync, StatusCode.InvalidArgument, "malformed protobuf");
        }

        // --- Submissions that are out of place (nothing recorded) ---
        await Refused(() => good.SubmitUpdateAsync(round + 5, layout, Delta(0.1f), 10, 0), StatusCode.FailedPrecondition, $"round {round} is collecting");
        await Refused(() => fresh.SubmitUpdateAsync(round, layout, Delta(0.1f), 10, 0), StatusCode.PermissionDenied, "not sampled");
        var huge = new UpdateHeader { Round = round, SampleCount = 10, TotalBytes = 1L << 40, LayoutFingerprint = layout };
        await Refused(() => good.SubmitRawAsync(huge, [], [], default), StatusCode.ResourceExhausted, "declares");
        foreach (long declared in new[] { 0L, -5L, long.MinValue })
        {
            var nonsense = new UpdateHeader { Round = round, SampleCount = 10, TotalBytes = declared, LayoutFingerprint = layout };
            await Refused(() => good.SubmitRawAsync(nonsense, [], [], default), StatusCode.InvalidArgument, $"declares {declared} bytes; total_bytes must be the positive size");
        }

        byte[] big = new byte[3 << 20];
        // A plausible header, then one 3 MiB message: gRPC's per-message limit (1 MiB + framing) refuses it.
        var oneBigChunk = new UpdateHeader { Round = round, SampleCount = 10, TotalBytes = Delta(0.1f).Length, LayoutFingerprint = layout };
        var oversized = await Assert.ThrowsAsync<RpcException>(() => good.SubmitRawAsync(oneBigChunk, big, [big], default));
        Assert.Equal(StatusCode.ResourceExhausted, oversized.StatusCode);
        Assert.Contains("exceeds", oversized.Status.Detail, StringComparison.OrdinalIgnoreCase);
        await Refused(() => participants[5].SecAggAsync(new SecAggRequest { Round = round, AdvertiseKeys = new AdvertiseKeys() }), StatusCode.FailedPrecondition, "out of stage");

        // --- A second concurrent upload from one client is refused while the first is open ---
        // The probes wait on the server's own record of the open upload: a probe sent before the server has read the
        // first header would itself become the upload in progress and get the first one refused instead.
        var openHeader = new UpdateHeader { Round = round, SampleCount = 10, TotalBytes = Delta(0.5f).Length, LayoutFingerprint = layout };
        using (var open = good.Raw.SubmitUpdate(good.Signed("SubmitUpdate", [], TimeSpan.FromSeconds(10), default)))
        {
            await open.RequestStream.WriteAsync(new UpdateMessage { Header = openHeader });
            await Eventually(() => server.Host.IsUploading(good.ClientId!), "the server never registered the open upload");
            var concurrent = await Assert.ThrowsAsync<RpcException>(() => good.SubmitRawAsync(openHeader, [], [], default));
            Assert.Equal(StatusCode.ResourceExhausted, concurrent.StatusCode);
            Assert.Contains("already in progress", concurrent.Status.Detail);
        }

        // Disposing the call cancels it; the server ends the upload when the cancellation reaches its handler.
        await Eventually(() => !server.Host.IsUploading(good.ClientId!), "the cancelled upload was never released");

        // --- A good update is accepted, and only once ---
        Assert.True((await good.SubmitUpdateAsync(round, layout, Delta(0.5f), 10, 0)).Accepted);
        await Refused(() => good.SubmitUpdateAsync(round, layout, Delta(0.5f), 10, 0), StatusCode.AlreadyExists, "already submitted");

        // --- Content rejections (authenticated, decoded, refused with a reason, recorded) ---
        var wrongLayout = ParameterLayout.Create(("dense.weight", [4, 3]), ("dense.bias", [3]));
        await Refused(() => participants[1].SubmitUpdateAsync(round, wrongLayout.FingerprintHex, Delta(0.1f, wrongLayout), 10, 0), StatusCode.InvalidArgument, "layout");
        byte[] nan = Delta(0.1f);
        var nanModel = Safetensors.Read(nan).Parameters;
        nanModel.AsSpan()[4] = float.NaN;
        await Refused(() => participants[2].SubmitUpdateAsync(round, layout, Safetensors.Write(nanModel), 10, 0), StatusCode.InvalidArgument, "NaN");
        await Refused(() => participants[3].SubmitUpdateAsync(round, layout, Delta(0.1f), 0, 0), StatusCode.InvalidArgument, "sample count 0 is not positive");
        await Refused(() => participants[4].SubmitUpdateAsync(round, layout, Delta(0.1f), 10_001, 0), StatusCode.InvalidArgument, "exceeds the bound 10000");
        byte[] notSafetensors = RandomNumberGenerator.GetBytes(Delta(0.1f).Length);
        await Refused(() => participants[5].SubmitUpdateAsync(round, layout, notSafetensors, 10, 0), StatusCode.InvalidArgument, "safetensors");

        // --- The server kept serving: the round completed with the one good update ---
        await server.Finished.WaitAsync(TimeSpan.FromSeconds(10));

        var stored = Assert.Single(server.Store.ListRounds());
        Assert.Equal("aggregated", stored.Status);
        Assert.Equal([good.ClientId!], stored.Accepted);
        Assert.Equal(5, stored.Rejected.Count);
        Assert.Contains(stored.Rejected, r => r.ClientId == participants[2].ClientId && r.Reason.Contains("NaN", StringComparison.Ordinal));
        Assert.Empty(stored.Stragglers);
        var expected = TestFederation.InitialModel().AsSpan().ToArray().Select(v => v + 0.5f);
        Assert.Equal(expected, server.GlobalModel.AsSpan().ToArray());
        Assert.Equal("finished", (await good.GetStatusAsync()).Stage);
    }

    /// <summary>Polls <paramref name="condition"/> every 10 ms for up to 10 s (the bound only matters when it never holds).</summary>
    private static async Task Eventually(Func<bool> condition, string failure)
    {
        for (int i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), failure);
    }
}
