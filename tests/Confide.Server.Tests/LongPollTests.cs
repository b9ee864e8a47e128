using Confide.Wire.V1;

namespace Confide.Server.Tests;

/// <summary>FetchTask as a long poll: held while there is nothing to do, answered as soon as a round starts.</summary>
public sealed class LongPollTests
{
    [Fact]
    public async Task A_waiting_fetch_is_answered_when_the_round_starts_not_when_its_wait_runs_out()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2));
        var (a, _) = await federation.EnrollAsync(1);
        var (b, _) = await federation.EnrollAsync(2);

        // Only a is connected, so its long poll waits: the round needs two clients.
        var waiting = a.FetchTaskAsync(-1, TimeSpan.FromMinutes(1));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        // b connects (an ordinary poll); the round starts at the next tick and wakes a's poll well before its minute.
        Assert.Equal(RoundTask.Types.Kind.Wait, (await b.FetchTaskAsync(-1)).Kind);
        var task = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RoundTask.Types.Kind.Train, task.Kind);
    }

    [Fact]
    public async Task A_fetch_without_a_wait_is_answered_at_once()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2));
        var (a, _) = await federation.EnrollAsync(1);
        var task = await a.FetchTaskAsync(-1).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RoundTask.Types.Kind.Wait, task.Kind);
        Assert.True(task.RetryAfterMs > 0);
    }

    [Fact]
    public async Task A_long_poll_ends_when_the_server_stops()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2));
        var (a, _) = await federation.EnrollAsync(1);
        var waiting = a.FetchTaskAsync(-1, TimeSpan.FromMinutes(1));
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);

        // Stopping must not wait for the poll's minute: the poll ends (answered or cut off) with the server.
        await federation.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        try
        {
            await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (Grpc.Core.RpcException)
        {
            // Cut off by the shutdown: also fine.
        }
    }

    [Fact]
    public async Task A_negative_or_huge_wait_is_refused_by_the_client()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 2));
        var (a, _) = await federation.EnrollAsync(1);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => a.FetchTaskAsync(-1, TimeSpan.FromSeconds(-1)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => a.FetchTaskAsync(-1, TimeSpan.FromHours(1)));
    }
}
