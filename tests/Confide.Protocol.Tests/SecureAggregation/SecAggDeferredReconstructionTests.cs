using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.Testing;

namespace Confide.Protocol.Tests.SecureAggregation;

/// <summary>
/// The final reconstruction split off the state machine (so a host can run it outside its lock): the same sum as the
/// in-line path, nothing accepted or closed while it is pending, and a stale result never committed.
/// </summary>
public sealed class SecAggDeferredReconstructionTests
{
    private static readonly SecAggStageDeadlines Deadlines = new(
        TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(8));

    private static (SecAggHarness Harness, SecAggRoundDriver Driver, FakeClock Clock) Create(bool deferred)
    {
        var harness = new SecAggHarness(new SecAggOptions(6, 3, 16, neighbourCount: 4), seed: 21);
        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        return (harness, new SecAggRoundDriver(harness.Session, Deadlines, clock, new SeededRandomSource(5)) { DefersReconstruction = deferred }, clock);
    }

    /// <summary>Every client in <paramref name="sends"/> that has an input answers it, through <paramref name="tamper"/>.</summary>
    private static void Answer(SecAggHarness harness, SecAggRoundDriver driver, Func<int, bool> sends, Func<SecAggClientMessage, SecAggClientMessage>? tamper = null)
    {
        for (int u = 0; u < harness.Options.ClientCount; u++)
        {
            if (!sends(u))
            {
                continue;
            }

            SecAggClientMessage? reply = driver.Stage == SecAggStage.AdvertiseKeys
                ? harness.Clients[u].AdvertiseKeys()
                : driver.MessageFor(u) is { } m ? harness.Clients[u].Handle(m) : null;
            if (reply is not null)
            {
                driver.Receive(tamper?.Invoke(reply) ?? reply);
            }
        }
    }

    [Fact]
    public async Task A_deferred_reconstruction_gives_the_same_sum_as_the_inline_one_and_nothing_moves_while_it_is_pending()
    {
        var (inlineHarness, inline, inlineClock) = Create(deferred: false);
        var (harness, driver, clock) = Create(deferred: true);
        using var _a = inlineHarness;
        using var _b = harness;
        foreach (var (h, d, c) in new[] { (inlineHarness, inline, inlineClock), (harness, driver, clock) })
        {
            Answer(h, d, _ => true);
            Answer(h, d, _ => true);
            Answer(h, d, u => u != 5);
            c.Advance(Deadlines.MaskedInput + TimeSpan.FromSeconds(1));
            Assert.True(d.Poll());
            Answer(h, d, u => u != 5);
            Answer(h, d, u => u != 5);
        }

        Assert.Equal(SecAggStage.Completed, inline.Stage);
        Assert.False(inline.IsReconstructing);
        Assert.Null(inline.PendingReconstruction);

        // The deferred driver closed Unmasking but has not reconstructed: no stage is open and no deadline applies.
        Assert.Equal(SecAggStage.Unmasking, driver.Stage);
        Assert.True(driver.IsReconstructing);
        Assert.False(driver.IsFinished);
        Assert.Null(driver.Result);
        Assert.Equal((0, 0), (driver.ExpectedInStage, driver.ReceivedInStage));
        var report = driver.Reports[^1];
        Assert.Equal((SecAggStage.Unmasking, 5, 5), (report.Stage, report.Expected, report.Received));
        var pending = driver.PendingReconstruction!;
        Assert.Equal(harness.Session.Round, pending.Round);
        Assert.False(pending.IsComplete);
        clock.Advance(Deadlines.Total);
        Assert.False(driver.Poll());
        Assert.Equal(SecAggStage.Unmasking, driver.Stage);
        Assert.Null(driver.DroppedAt(0));
        Assert.Null(driver.MessageFor(0));

        // Client 0's unmasking response delivered again now (its answer was lost) is a duplicate, not a late message,
        // and the round is unchanged. (Every client still in sent one, so no message now can be merely late; the
        // server's own "late: reconstructing" refusal covers a message it never accepted.)
        var again = new UnmaskingResponseMessage(harness.Session.SessionId, harness.Session.Round, 0, [], []);
        var refused = Assert.Throws<SecAggReplayException>(() => driver.Receive(again));
        Assert.Contains("already sent its Unmasking message", refused.Message, StringComparison.Ordinal);
        Assert.True(driver.IsReconstructing);

        // Committing before running is a caller error; after running, the sum is the in-line one (and the plain sum).
        Assert.Throws<InvalidOperationException>(() => driver.CompleteReconstruction(pending));
        await Task.Run(pending.Run); // on any thread
        Assert.True(pending.IsComplete);
        pending.Run(); // a second run does nothing
        Assert.True(driver.CompleteReconstruction(pending));
        Assert.Equal(SecAggStage.Completed, driver.Stage);
        Assert.True(driver.IsFinished);
        Assert.Null(driver.PendingReconstruction);
        Assert.Equal(inline.Result!.Sum, driver.Result!.Sum);
        Assert.Equal(inline.Result.Survivors, driver.Result.Survivors);
        Assert.Equal(SecAggSimulation.PlainSum(harness.Inputs, [0, 1, 2, 3, 4], 32), driver.Result.Sum);
        Assert.False(driver.CompleteReconstruction(pending)); // already committed
    }

    [Fact]
    public void A_round_aborted_while_reconstructing_does_not_commit_the_result()
    {
        var (harness, driver, _) = Create(deferred: true);
        using var _h = harness;
        for (int stage = 0; stage < 5; stage++)
        {
            Answer(harness, driver, _ => true);
        }

        var pending = driver.PendingReconstruction!;
        driver.Abort("the server is shutting down");
        pending.Run();
        Assert.False(driver.CompleteReconstruction(pending));
        Assert.Equal(SecAggStage.Aborted, driver.Stage);
        Assert.Equal(SecAggStage.Unmasking, driver.AbortedInStage);
        Assert.Null(driver.Result);
        Assert.Contains("shutting down", driver.AbortReason!, StringComparison.Ordinal);
    }

    [Fact]
    public void Inconsistent_shares_found_outside_the_lock_abort_the_round_when_committed()
    {
        var (harness, driver, _) = Create(deferred: true);
        using var _h = harness;
        for (int stage = 0; stage < 4; stage++)
        {
            Answer(harness, driver, _ => true);
        }

        // Client 0 reveals a corrupted share of a survivor's self-mask seed.
        Answer(harness, driver, _ => true, m =>
        {
            if (m is UnmaskingResponseMessage r && r.Sender == 0)
            {
                var first = r.SelfMaskShares[0];
                byte[] bad = (byte[])first.Share.Clone();
                bad[^1] ^= 0x5a;
                return r with { SelfMaskShares = [first with { Share = bad }, .. r.SelfMaskShares.Skip(1)] };
            }

            return m;
        });
        var pending = driver.PendingReconstruction!;
        pending.Run(); // the failure is kept for the commit, not thrown on the computing thread
        Assert.True(driver.CompleteReconstruction(pending));
        Assert.Equal(SecAggStage.Aborted, driver.Stage);
        Assert.Equal(SecAggStage.Unmasking, driver.AbortedInStage);
        Assert.Contains("aborted in stage Unmasking: 6 of 6", driver.AbortReason!, StringComparison.Ordinal);
        Assert.Contains("inconsistent", driver.AbortReason!, StringComparison.Ordinal);
        Assert.Null(driver.Result);
    }

    [Fact]
    public void The_server_refuses_to_mix_reconstructions_or_close_a_stage_while_one_is_pending()
    {
        using var a = new SecAggHarness(new SecAggOptions(3, 2, 4), seed: 1);
        using var b = new SecAggHarness(new SecAggOptions(3, 2, 4), seed: 2);
        Assert.Throws<InvalidOperationException>(() => a.Server.BeginReconstruction());
        var inboxA = a.RunUntil(SecAggStage.Unmasking);
        var inboxB = b.RunUntil(SecAggStage.Unmasking);
        foreach (var (h, inbox) in new[] { (a, inboxA), (b, inboxB) })
        {
            for (int u = 0; u < 3; u++)
            {
                h.Server.Receive(h.Clients[u].Handle(inbox[u]));
            }
        }

        var fromA = a.Server.BeginReconstruction();
        var fromB = b.Server.BeginReconstruction();
        Assert.Throws<InvalidOperationException>(() => a.Server.BeginReconstruction());
        Assert.Throws<InvalidOperationException>(() => a.Server.CloseStage());
        fromA.Run();
        fromB.Run();
        var wrong = Assert.Throws<ArgumentException>(() => a.Server.CompleteReconstruction(fromB));
        Assert.Contains("belongs to another server", wrong.Message, StringComparison.Ordinal);
        Assert.True(a.Server.CompleteReconstruction(fromA));
        Assert.Equal(SecAggSimulation.PlainSum(a.Inputs, [0, 1, 2], 32), a.Server.Result.Sum);
        Assert.False(a.Server.IsReconstructing);
    }
}
