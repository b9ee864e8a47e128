using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.Testing;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggRoundDriverTests
{
    private static readonly SecAggStageDeadlines Deadlines = new(
        TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(8));

    private static (SecAggHarness Harness, SecAggRoundDriver Driver, FakeClock Clock) Create(int n = 5, int threshold = 3)
    {
        var harness = new SecAggHarness(new SecAggOptions(n, threshold, 8), seed: 11);
        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        return (harness, new SecAggRoundDriver(harness.Session, Deadlines, clock, new SeededRandomSource(3)), clock);
    }

    /// <summary>Every client in <paramref name="sends"/> that has an input answers it; returns how many answered.</summary>
    private static int Answer(SecAggHarness harness, SecAggRoundDriver driver, Func<int, bool> sends)
    {
        int answered = 0;
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
                driver.Receive(reply);
                answered++;
            }
        }

        return answered;
    }

    [Fact]
    public void Stages_close_as_soon_as_every_expected_message_is_in()
    {
        var (harness, driver, _) = Create();
        using var _h = harness;
        for (var stage = SecAggStage.AdvertiseKeys; stage <= SecAggStage.Unmasking; stage++)
        {
            Assert.Equal(stage, driver.Stage);
            Assert.Equal(5, Answer(harness, driver, _ => true));
            Assert.Equal(stage == SecAggStage.Unmasking ? SecAggStage.Completed : SecAggStages.Next(stage), driver.Stage);
        }

        Assert.Equal(SecAggStage.Completed, driver.Stage);
        Assert.Equal(SecAggSimulation.PlainSum(harness.Inputs, Enumerable.Range(0, 5), 32), driver.Result!.Sum);
        Assert.All(driver.Reports, r => Assert.False(r.ByDeadline));
        Assert.All(driver.Reports, r => Assert.Empty(r.Dropped));
        Assert.Null(driver.AbortReason);
    }

    [Fact]
    public void A_stage_waits_for_its_deadline_then_drops_the_missing_client_and_the_sum_is_still_recovered()
    {
        var (harness, driver, clock) = Create();
        using var _h = harness;
        Answer(harness, driver, _ => true);
        Answer(harness, driver, _ => true);
        Assert.Equal(SecAggStage.MaskedInputCollection, driver.Stage);

        // Client 2 shared its keys but never sends its masked input.
        Answer(harness, driver, u => u != 2);
        Assert.False(driver.Poll());
        clock.Advance(Deadlines.MaskedInput);
        Assert.False(driver.Poll()); // exactly at the deadline the stage is still open
        Assert.Equal(SecAggStage.MaskedInputCollection, driver.Stage);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(driver.Poll());
        Assert.Equal(SecAggStage.ConsistencyCheck, driver.Stage);
        var report = driver.Reports[^1];
        Assert.Equal(SecAggStage.MaskedInputCollection, report.Stage);
        Assert.True(report.ByDeadline);
        Assert.Equal((5, 4), (report.Expected, report.Received));
        Assert.Equal([2], report.Dropped);
        Assert.Equal(SecAggStage.MaskedInputCollection, driver.DroppedAt(2));
        Assert.Null(driver.MessageFor(2));
        Assert.Equal(clock.UtcNow + Deadlines.ConsistencyCheck, driver.StageDeadline);

        Answer(harness, driver, u => u != 2);
        Answer(harness, driver, u => u != 2);
        Assert.Equal(SecAggStage.Completed, driver.Stage);
        Assert.Equal(SecAggSimulation.PlainSum(harness.Inputs, [0, 1, 3, 4], 32), driver.Result!.Sum);
    }

    [Fact]
    public void A_dropout_cannot_rejoin_and_a_late_message_is_out_of_stage()
    {
        var (harness, driver, clock) = Create();
        using var _h = harness;
        Answer(harness, driver, _ => true);
        // Client 4 lets ShareKeys pass; the deadline closes the stage even though nobody polled.
        var keys = driver.MessageFor(4)!;
        Answer(harness, driver, u => u != 4);
        clock.Advance(Deadlines.ShareKeys + TimeSpan.FromSeconds(1));
        var late = harness.Clients[4].Handle(keys);
        var outOfStage = Assert.Throws<SecAggOutOfOrderException>(() => driver.Receive(late));
        Assert.Contains("late", outOfStage.Message, StringComparison.Ordinal);
        Assert.Equal(SecAggStage.MaskedInputCollection, driver.Stage);
        Assert.Equal(SecAggStage.ShareKeys, driver.DroppedAt(4));

        // Its masked input (stage-correct now) is refused because it is out of the round.
        var forged = new MaskedInputMessage(harness.Session.SessionId, harness.Session.Round, 4, new ulong[8]);
        var notIn = Assert.Throws<SecAggNotInRoundException>(() => driver.Receive(forged));
        Assert.Equal(SecAggStage.ShareKeys, notIn.DroppedAt);
        Assert.Contains("stage ShareKeys", notIn.Message, StringComparison.Ordinal);

        // A client that already sent gets nothing more until the next stage opens.
        Answer(harness, driver, u => u == 0);
        Assert.True(driver.HasSent(0));
        Assert.Null(driver.MessageFor(0));
    }

    [Fact]
    public void A_message_delivered_again_after_its_stage_closed_is_a_duplicate_not_a_late_message()
    {
        var (harness, driver, _) = Create();
        using var _h = harness;
        var adverts = Enumerable.Range(0, 5).Select(u => harness.Clients[u].AdvertiseKeys()).ToArray();
        foreach (var advert in adverts)
        {
            driver.Receive(advert);
        }

        // The last advertisement closed the stage at once; its sender never saw the answer and sends it again.
        Assert.Equal(SecAggStage.ShareKeys, driver.Stage);
        var again = Assert.Throws<SecAggReplayException>(() => driver.Receive(adverts[4]));
        Assert.Contains("already sent its AdvertiseKeys message, and that stage has closed since", again.Message, StringComparison.Ordinal);

        // Nothing changed: the client is still in the round and its next input waits for it.
        Assert.Equal(SecAggStage.ShareKeys, driver.Stage);
        Assert.Null(driver.DroppedAt(4));
        Assert.False(driver.HasSent(4));
        Assert.NotNull(driver.MessageFor(4));

        // The same holds two stages on, and a message for another session is still refused as out of stage.
        Answer(harness, driver, _ => true);
        Assert.Equal(SecAggStage.MaskedInputCollection, driver.Stage);
        Assert.Throws<SecAggReplayException>(() => driver.Receive(adverts[0]));
        var foreign = adverts[0] with { SessionId = "another-session-id" };
        Assert.Throws<SecAggOutOfOrderException>(() => driver.Receive(foreign));
    }

    [Fact]
    public void Too_few_survivors_abort_with_a_reason_naming_the_stage_and_the_counts()
    {
        var (harness, driver, clock) = Create(n: 5, threshold: 4);
        using var _h = harness;
        Answer(harness, driver, _ => true);
        Answer(harness, driver, u => u is 0 or 1 or 2);
        clock.Advance(Deadlines.ShareKeys + TimeSpan.FromSeconds(1));
        Assert.True(driver.Poll());
        Assert.True(driver.IsFinished);
        Assert.Equal(SecAggStage.Aborted, driver.Stage);
        Assert.Equal(SecAggStage.ShareKeys, driver.AbortedInStage);
        Assert.Contains("stage ShareKeys", driver.AbortReason!, StringComparison.Ordinal);
        Assert.Contains("3 of 5", driver.AbortReason!, StringComparison.Ordinal);
        Assert.Null(driver.Result);
        Assert.Null(driver.MessageFor(0));
        Assert.False(driver.Poll());
    }

    [Fact]
    public void Nobody_advertising_aborts_at_the_first_deadline()
    {
        var (harness, driver, clock) = Create();
        using var _h = harness;
        clock.Advance(Deadlines.AdvertiseKeys);
        Assert.False(driver.Poll());
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(driver.Poll());
        Assert.Equal(SecAggStage.AdvertiseKeys, driver.AbortedInStage);
        Assert.Contains("0 of 5", driver.AbortReason!, StringComparison.Ordinal);
    }

    [Fact]
    public void Deadlines_must_be_positive()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggStageDeadlines(
            TimeSpan.FromSeconds(1), TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
        Assert.Equal("shareKeys", ex.ParamName);
        Assert.Equal(TimeSpan.FromSeconds(14), SecAggStageDeadlines.Uniform(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1)).Total);
    }
}
