using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>
/// Raw bytes that are not valid protobuf, sent on real calls of every RPC that takes a request: each is answered with
/// INVALID_ARGUMENT saying the body could not be parsed, nothing is recorded, and the server keeps serving.
/// </summary>
public sealed class MalformedRequestTests
{
    // A length-delimited field 1 whose varint length runs past the end of the buffer.
    private static readonly byte[] Garbage = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01];

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    [Theory]
    [InlineData("Enroll", false)]
    [InlineData("GetStatus", false)]
    [InlineData("FetchTask", true)]
    [InlineData("ReportMetrics", true)]
    [InlineData("SecAgg", true)]
    public async Task A_unary_body_that_does_not_parse_is_refused_with_invalid_argument(string method, bool signed)
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 1));
        var (client, _) = await federation.EnrollAsync(0);
        int enrolled = server.Store.CountClients();

        var raw = new Method<byte[], byte[]>(MethodType.Unary, "confide.v1.Federation", method, Bytes, Bytes);
        var options = signed ? client.Signed(method, Garbage, TimeSpan.FromSeconds(10), default) : new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10));
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await client.Channel.CreateCallInvoker().AsyncUnaryCall(raw, null, options, Garbage));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains($"request body of {method} could not be parsed", ex.Status.Detail, StringComparison.Ordinal);

        // Nothing changed and the server still answers well-formed calls.
        Assert.Equal(enrolled, server.Store.CountClients());
        Assert.Empty(server.Store.ListRounds());
        var status = await client.GetStatusAsync();
        Assert.Equal(1, status.EnrolledClients);
        var task = await client.FetchTaskAsync(-1);
        Assert.Contains(task.Kind, new[] { RoundTask.Types.Kind.Wait, RoundTask.Types.Kind.Train });
    }

    [Fact]
    public async Task A_server_streaming_request_that_does_not_parse_is_refused_with_invalid_argument()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 1));
        var (client, _) = await federation.EnrollAsync(0);

        var raw = new Method<byte[], byte[]>(MethodType.ServerStreaming, "confide.v1.Federation", "FetchModel", Bytes, Bytes);
        using var call = client.Channel.CreateCallInvoker().AsyncServerStreamingCall(raw, null, client.Signed("FetchModel", Garbage, TimeSpan.FromSeconds(10), default), Garbage);
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("request body of FetchModel could not be parsed", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, (await client.GetStatusAsync()).EnrolledClients);
    }

    [Fact]
    public async Task A_valid_message_of_the_wrong_type_that_happens_to_parse_reaches_the_service_checks()
    {
        // Protobuf is lenient: an EnrollRequest's bytes parse as a FetchTaskRequest with unknown fields. Such a body is
        // not malformed; the signature check (over the exact bytes) is what refuses it when it was not signed.
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 1));
        var (client, _) = await federation.EnrollAsync(0);
        byte[] body = new EnrollRequest { Token = "x", Label = "y" }.ToByteArray();
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "confide.v1.Federation", "FetchTask", Bytes, Bytes);
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.Channel.CreateCallInvoker().AsyncUnaryCall(raw, null, client.Signed("FetchTask", [], TimeSpan.FromSeconds(10), default), body));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("does not match", ex.Status.Detail, StringComparison.Ordinal);
    }
}
