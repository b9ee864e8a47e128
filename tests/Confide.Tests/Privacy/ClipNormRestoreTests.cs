using Confide.Privacy;

namespace Confide.Tests.Privacy;

/// <summary>Restoring the adaptive clip norm after a restart (the value saved with the last completed round).</summary>
public sealed class ClipNormRestoreTests
{
    private sealed class Silent : IGaussianNoise
    {
        public void AddTo(Span<float> values, double standardDeviation)
        {
        }

        public void Fill(Span<double> destination, double standardDeviation) => destination.Clear();
    }

    [Fact]
    public void A_restored_clip_norm_continues_the_geometric_sequence()
    {
        var options = new AdaptiveClippingOptions(1.0, 0.5, 0.2, 2.0);
        var original = new AdaptiveClipping(options);
        original.Update(0, 10, 10, new Silent());
        var restored = new AdaptiveClipping(options);
        restored.Restore(original.ClipNorm);
        original.Update(3, 10, 10, new Silent());
        restored.Update(3, 10, 10, new Silent());
        Assert.Equal(original.ClipNorm, restored.ClipNorm);
        Assert.NotEqual(1.0, restored.ClipNorm);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_clip_norm_that_is_not_positive_and_finite_is_refused(double value) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveClipping(new AdaptiveClippingOptions(1.0, 0.5, 0.2, 2.0)).Restore(value));

    [Fact]
    public void DpFedAvg_restores_an_adaptive_clip_norm_and_refuses_to_change_a_fixed_one()
    {
        var ledger = new PrivacyLedger(new PrivacyBudget(10, 1e-5));
        var adaptive = new DpFedAvg(DpFedAvgOptions.Adaptive(1.0, new AdaptiveClippingOptions(1.0, 0.5, 0.2, 2.0), 10, 100, ClippingPlacement.Server), new Silent(), ledger);
        adaptive.RestoreClipNorm(0.37);
        Assert.Equal(0.37, adaptive.CurrentClipNorm);

        var fixedClip = new DpFedAvg(DpFedAvgOptions.Fixed(1.0, 2.0, 10, 100, ClippingPlacement.Server), new Silent(), ledger);
        fixedClip.RestoreClipNorm(2.0);
        Assert.Contains("differs from the fixed clip norm", Assert.Throws<ArgumentException>(() => fixedClip.RestoreClipNorm(1.5)).Message);
        Assert.Equal(2.0, fixedClip.CurrentClipNorm);
    }
}
