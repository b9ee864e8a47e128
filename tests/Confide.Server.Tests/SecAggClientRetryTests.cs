using Confide.Client.Internal;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>The client's SecAgg calls survive transient failures; definitive refusals pass through.</summary>
public sealed class SecAggClientRetryTests
{
    private static readonly SecAggRequest Masked = new() { Round = 2, SessionId = "s", MaskedInput = new MaskedInput { Masked = ByteString.CopyFrom([1, 2, 3, 4]) } };

    private static Func<SecAggRequest, CancellationToken, Task<SecAggResponse>> Scripted(List<SecAggRequest> seen, params StatusCode?[] answers)
    {
        int i = 0;
        return (request, _) =>
        {
            seen.Add(request);
            StatusCode? code = answers[Math.Min(i++, answers.Length - 1)];
            return code is { } c ? Task.FromException<SecAggResponse>(new RpcException(new Status(c, "scripted"))) : Task.FromResult(new SecAggResponse { RetryAfterMs = 7 });
        };
    }

    [Fact]
    public async Task Transient_failures_are_retried_until_the_call_goes_through()
    {
        var seen = new List<SecAggRequest>();
        var response = await SecAggWireClient.SendWithRetryAsync(Scripted(seen, StatusCode.Unavailable, StatusCode.ResourceExhausted, null), Masked, TimeSpan.FromMilliseconds(1), default);
        Assert.Equal(7, response.RetryAfterMs);
        Assert.Equal(3, seen.Count);
        Assert.All(seen, r => Assert.Equal(SecAggRequest.StageOneofCase.MaskedInput, r.StageCase));
    }

    [Fact]
    public async Task A_redelivered_stage_message_turns_into_a_poll()
    {
        var seen = new List<SecAggRequest>();
        await SecAggWireClient.SendWithRetryAsync(Scripted(seen, StatusCode.DeadlineExceeded, StatusCode.AlreadyExists, null), Masked, TimeSpan.FromMilliseconds(1), default);
        Assert.Equal([SecAggRequest.StageOneofCase.MaskedInput, SecAggRequest.StageOneofCase.MaskedInput, SecAggRequest.StageOneofCase.Poll], seen.Select(r => r.StageCase));
        Assert.Equal(("s", 2L), (seen[2].SessionId, seen[2].Round));
    }

    [Fact]
    public async Task Definitive_refusals_and_persistent_failures_are_thrown()
    {
        var seen = new List<SecAggRequest>();
        var invalid = await Assert.ThrowsAsync<RpcException>(() => SecAggWireClient.SendWithRetryAsync(Scripted(seen, StatusCode.InvalidArgument), Masked, TimeSpan.FromMilliseconds(1), default));
        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        Assert.Single(seen);

        // ALREADY_EXISTS on the first attempt is a real duplicate, not a lost answer.
        seen.Clear();
        await Assert.ThrowsAsync<RpcException>(() => SecAggWireClient.SendWithRetryAsync(Scripted(seen, StatusCode.AlreadyExists), Masked, TimeSpan.FromMilliseconds(1), default));
        Assert.Single(seen);

        seen.Clear();
        var down = await Assert.ThrowsAsync<RpcException>(() => SecAggWireClient.SendWithRetryAsync(Scripted(seen, StatusCode.Unavailable), Masked, TimeSpan.FromMilliseconds(1), default));
        Assert.Equal(StatusCode.Unavailable, down.StatusCode);
        Assert.Equal(6, seen.Count);
    }
}
