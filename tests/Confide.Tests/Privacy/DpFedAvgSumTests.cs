using Confide.Privacy;
using Confide.Randomness;
using Confide.Tests.Aggregation;

namespace Confide.Tests.Privacy;

/// <summary>DP-FedAvg fed one update at a time: the same round as <see cref="DpFedAvg.AggregateRound"/>, holding one sum.</summary>
public sealed class DpFedAvgSumTests
{
    private static DpFedAvg Create(DpFedAvgOptions options, ulong noiseSeed = 8, double maxEpsilon = 100) =>
        new(options, new GaussianNoise(new SeededRandomSource(noiseSeed)), new PrivacyLedger(new PrivacyBudget(maxEpsilon, 1e-5)));

    private static DpFedAvgOptions ServerAdaptive() =>
        DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(8.0, 0.5, 0.2, 1.0), 6, 60, ClippingPlacement.Server);

    [Fact]
    public void Streaming_a_round_gives_exactly_what_the_batch_round_gives()
    {
        // Values in [−10, 10] over 101 coordinates: norms around 58, so a clip norm of 8 clips every update.
        var updates = StatTestData.Updates(6, 101, 17);
        var batch = Create(ServerAdaptive()).AggregateRound(0, StatTestData.Memories(updates));

        var streamed = Create(ServerAdaptive());
        var sum = streamed.StartSum(101);
        foreach (var u in updates)
        {
            sum.Add(u);
        }

        var round = sum.Complete(0);
        Assert.Equal(batch.Result.Aggregate, round.Result.Aggregate);
        Assert.Equal(batch.PreClipNorms, round.PreClipNorms);
        Assert.Equal(batch.NextClipNorm, round.NextClipNorm);
        Assert.NotEqual(round.ClipNorm, round.NextClipNorm);
        Assert.Equal(batch.Spent, round.Spent);
        Assert.Equal(0, sum.Count);
    }

    [Fact]
    public void The_order_of_arrival_changes_the_noisy_mean_only_at_float_rounding()
    {
        var updates = StatTestData.Updates(6, 2001, 3);
        float[] Run(IEnumerable<int> order)
        {
            var sum = Create(ServerAdaptive(), noiseSeed: 5).StartSum(2001);
            foreach (int i in order)
            {
                sum.Add(updates[i]);
            }

            return sum.Complete(0).Result.Aggregate;
        }

        StatTestData.AssertClose(Run(Enumerable.Range(0, 6)), Run(StatTestData.Permutation(6, 3)), 1e-6);
    }

    [Fact]
    public void Nothing_is_charged_before_Complete_and_a_cleared_round_costs_nothing()
    {
        var dp = Create(DpFedAvgOptions.Fixed(1.0, 1.0, 2, 20, ClippingPlacement.Server));
        var sum = dp.StartSum(2);
        sum.Add([30, 40]);
        sum.Add([0.3f, 0.4f]);
        Assert.Empty(dp.Ledger.Releases);
        sum.Clear();
        Assert.Empty(dp.Ledger.Releases);
        Assert.Equal(0, sum.Count);
        Assert.Throws<InvalidOperationException>(() => sum.Complete(0));

        sum.Add([0, 0]);
        var round = sum.Complete(0);
        Assert.Single(dp.Ledger.Releases);
        Assert.Equal([0.0], round.PreClipNorms); // the cleared updates are gone
    }

    [Fact]
    public void A_round_over_the_budget_charges_nothing_draws_no_noise_and_keeps_the_sum()
    {
        // z = 0.3 at q = 1: one round costs far more than ε = 1.
        var noise = new CountingNoise();
        var dp = new DpFedAvg(DpFedAvgOptions.Fixed(0.3, 1.0, 2, 2, ClippingPlacement.Server), noise, new PrivacyLedger(new PrivacyBudget(1, 1e-5)));
        var sum = dp.StartSum(2);
        sum.Add([0.3f, 0.4f]);
        Assert.Throws<PrivacyBudgetExceededException>(() => sum.Complete(0));
        Assert.Empty(dp.Ledger.Releases);
        Assert.Equal(0, noise.Calls);
        Assert.Equal(1, sum.Count);
    }

    [Fact]
    public void Flags_name_the_position_the_update_was_added_at()
    {
        var dp = Create(DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(1.0, 0.5, 0.2, 1.0), 3, 30, ClippingPlacement.Client));
        var sum = dp.StartSum(2);
        Assert.Equal(0, sum.Add([0.6f, 0.8f], true));
        Assert.Equal(1, sum.Add([3f, 4f], false)); // claims to be clipped, but its norm is 5 > C = 1
        Assert.Equal(2, sum.Add([0.03f, 0.04f], false)); // "over C" yet well below it

        // A missing report is refused before anything is added.
        Assert.Contains("'norm ≤ C' report", Assert.Throws<ArgumentException>(() => sum.Add([0.1f, 0.1f])).Message, StringComparison.Ordinal);
        Assert.Contains("expected 2", Assert.Throws<ArgumentException>(() => sum.Add([1f], true)).Message, StringComparison.Ordinal);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => sum.Add([float.NaN, 0], true)).Message, StringComparison.Ordinal);
        Assert.Equal(3, sum.Count);

        var flagged = sum.Complete(0).Result.Flagged;
        Assert.Equal([1, 2], flagged.Select(f => f.Index));
        Assert.Contains("clipped by the server", flagged[0].Reason, StringComparison.Ordinal);
        Assert.Contains("clip indicator is inconsistent", flagged[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sum_is_made_for_the_model_length()
    {
        var layout = Confide.Parameters.ParameterLayout.Create(("w", [2, 2]), ("b", [2]));
        var dp = Create(DpFedAvgOptions.Fixed(1.0, 1.0, 2, 20, ClippingPlacement.Server, layout));
        Assert.Contains("per-layer clipping layout has 6", Assert.Throws<ArgumentException>(() => dp.StartSum(5)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => dp.StartSum(0));
        Assert.Equal(6, dp.StartSum(6).Length);
    }

    private sealed class CountingNoise : IGaussianNoise
    {
        public int Calls { get; private set; }

        public void AddTo(Span<float> values, double standardDeviation) => Calls++;

        public void Fill(Span<double> destination, double standardDeviation) => Calls++;
    }
}
