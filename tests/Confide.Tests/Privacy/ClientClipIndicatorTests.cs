using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Tests.Privacy;

/// <summary>DP-FedAvg with client-side adaptive clipping: the clients' "norm ≤ C" reports (Andrew et al. 2021).</summary>
public sealed class ClientClipIndicatorTests
{
    private static DpFedAvg Create() => new(
        DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(1.0, 0.5, 0.2, 1.0), 3, 30, ClippingPlacement.Client),
        new GaussianNoise(new SeededRandomSource(4)),
        new PrivacyLedger(new PrivacyBudget(100, 1e-5)));

    [Fact]
    public void A_norm_above_C_report_on_an_update_well_below_C_is_flagged_and_honest_reports_are_not()
    {
        var clipped = new float[] { 3f, 4f };
        var report = L2Clipping.Clip(clipped, 1.0); // honest: norm 5 > C, sent clipped with report 0
        Assert.True(report.Clipped);
        ReadOnlyMemory<float>[] updates = [clipped, new float[] { 0.3f, 0.4f }, new float[] { 0.3f, 0.4f }];
        var round = Create().AggregateRound(0, updates, [false, true, false]);
        var flag = Assert.Single(round.Result.Flagged);
        Assert.Equal(2, flag.Index);
        Assert.Contains("clip indicator is inconsistent", flag.Reason);
    }

    [Fact]
    public void The_count_uses_the_reports_as_sent()
    {
        ReadOnlyMemory<float>[] updates = [new float[] { 0.3f, 0.4f }, new float[] { 0.3f, 0.4f }, new float[] { 0.3f, 0.4f }];
        var trusting = Create();
        trusting.AggregateRound(0, updates, [false, false, false]);
        var honest = Create();
        honest.AggregateRound(0, updates, [true, true, true]);
        // Same noise stream; only the reports differ: all "over C" pushes C up, all "under C" pushes it down.
        Assert.True(trusting.CurrentClipNorm > honest.CurrentClipNorm);
    }

    [Fact]
    public void Missing_reports_are_refused()
    {
        ReadOnlyMemory<float>[] updates = [new float[] { 0.3f, 0.4f }, new float[] { 0.3f, 0.4f }];
        var ex = Assert.Throws<ArgumentException>(() => Create().AggregateRound(0, updates, [true]));
        Assert.Contains("one 'norm ≤ C' report per update", ex.Message);
    }
}
