using Confide.Protocol.Rounds;
using Confide.Server.Internal;

namespace Confide.Server.Tests;

/// <summary>Group commit: an acceptance is answered only after a flush that began after its commit.</summary>
public sealed class GroupCommitTests
{
    [Fact]
    public async Task A_flush_that_began_before_a_commit_does_not_cover_it()
    {
        using var release = new SemaphoreSlim(0);
        int flushes = 0;
        var commits = new GroupCommit(() =>
        {
            Interlocked.Increment(ref flushes);
            release.Wait(TimeSpan.FromSeconds(20));
        });

        long first = commits.Written();
        var firstDurable = commits.WhenDurableAsync(first);
        await WaitUntil(() => Volatile.Read(ref flushes) == 1); // the first flush is running (and blocked)
        long second = commits.Written();
        var secondDurable = commits.WhenDurableAsync(second);

        release.Release();
        await firstDurable.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(secondDurable.IsCompleted); // the running flush started before the second commit
        await WaitUntil(() => Volatile.Read(ref flushes) == 2);
        release.Release();
        await secondDurable.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(2, flushes);
    }

    [Fact]
    public async Task Concurrent_commits_share_flushes_and_all_complete()
    {
        int flushes = 0;
        var commits = new GroupCommit(() =>
        {
            Interlocked.Increment(ref flushes);
            Thread.Sleep(5);
        });
        var waits = Enumerable.Range(0, 64).Select(_ => Task.Run(() => commits.WhenDurableAsync(commits.Written()))).ToArray();
        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.InRange(flushes, 1, 64);
    }

    [Fact]
    public async Task A_failed_flush_fails_the_waiting_acceptance()
    {
        var commits = new GroupCommit(() => throw new IOException("disk full"));
        var ex = await Assert.ThrowsAsync<IOException>(() => commits.WhenDurableAsync(commits.Written()).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("disk full", ex.Message);
    }

    [Fact]
    public void A_row_committed_without_a_flush_then_flushed_is_there_after_reopening()
    {
        string state = Path.Combine(Path.GetTempPath(), "confide-groupcommit-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ticket = new RoundTicket(0, ["c-1"], DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1));
            using (var store = StateStore.Open(state))
            {
                store.LoadOrSaveInitialModel(TestFederation.InitialModel());
                store.BeginRound(ticket);
                store.RecordSubmission(0, "c-1", accepted: false, "a reason", 10, 0, null, DateTimeOffset.UtcNow, durable: false);
                store.Flush();
            }

            using (var reopened = StateStore.Open(state))
            {
                var round = Assert.Single(reopened.ListRounds());
                Assert.Equal(("c-1", "a reason"), Assert.Single(round.Rejected));
                reopened.Flush(); // nothing waiting: still fine
            }

            var closed = StateStore.Open(state);
            closed.Dispose();
            Assert.Throws<ObjectDisposedException>(closed.Flush);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
