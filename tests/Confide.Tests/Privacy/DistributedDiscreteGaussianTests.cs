using Confide.Privacy;

namespace Confide.Tests.Privacy;

public sealed class DistributedDiscreteGaussianTests
{
    private static readonly double[] SomeOrders = [1.5, 2, 3.7, 8, 32, 63];

    [Fact]
    public void TauMatchesTheSumWrittenOut()
    {
        // σ = 1/2, n = 3: τ = 10·(e^{−2π²/4·1/2} + e^{−2π²/4·2/3}) = 10·(e^{−π²/4} + e^{−π²/3}).
        Assert.Equal(1.2206373471865504, DistributedDiscreteGaussian.Tau(0.5, 3), 12);
        Assert.Equal(0, DistributedDiscreteGaussian.Tau(0.5, 1));
        // Large σ: every term underflows.
        Assert.Equal(0, DistributedDiscreteGaussian.Tau(40, 10_000));
        Assert.True(DistributedDiscreteGaussian.Tau(0.5, 100) > DistributedDiscreteGaussian.Tau(0.5, 10));
        Assert.True(DistributedDiscreteGaussian.Tau(0.5, 10) > DistributedDiscreteGaussian.Tau(1, 10));
    }

    [Theory]
    [InlineData(50.0, 10, 200.0)]
    [InlineData(0.3, 1, 2.0)] // one client: a single discrete Gaussian, exactly the Gaussian curve (Canonne et al. 2020)
    public void WithTauZeroTheCurveIsTheContinuousGaussians(double sigma, int n, double l2)
    {
        var entry = new DistributedDiscreteGaussianSteps(1, l2, l2 * 3, sigma, n, 400);
        Assert.Equal(0, entry.Tau);
        double z = Math.Sqrt(n) * sigma / l2;
        Assert.Equal(z, entry.EffectiveNoiseMultiplier, 12);
        foreach (double a in SomeOrders)
        {
            double expected = a * l2 * l2 / (2 * n * sigma * sigma);
            Assert.Equal(expected, DistributedDiscreteGaussian.RdpOneStep(entry, a), 10);
            Assert.Equal(RdpAccountant.ComputeRdp(1, z, 1, a), DistributedDiscreteGaussian.RdpOneStep(entry, a), 10);
        }
    }

    [Fact]
    public void SmallSigmaPaysTheTauTermAsTheSmallestOfThreeBounds()
    {
        // Worked by hand: σ = 0.5, n = 3, Δ₂ = 2, Δ₁ = 4, d = 10, τ from the test above.
        double tau = 1.2206373471865504;
        var entry = new DistributedDiscreteGaussianSteps(1, 2, 4, 0.5, 3, 10);
        double a = 2 / (Math.Sqrt(3) * 0.5), b = 4 / (Math.Sqrt(3) * 0.5);
        foreach (double alpha in SomeOrders)
        {
            double first = (alpha * a * a / 2) + (tau * 10);
            double second = alpha / 2 * ((a * a) + (2 * b * tau) + (tau * tau * 10));
            double third = alpha / 2 * Math.Pow(a + (tau * Math.Sqrt(10)), 2);
            double rdp = DistributedDiscreteGaussian.RdpOneStep(entry, alpha);
            Assert.Equal(Math.Min(first, Math.Min(second, third)), rdp, 10);
            Assert.True(rdp > alpha * a * a / 2, "τ > 0 must cost more than the continuous Gaussian");
        }

        // Low orders take the additive τd bound, high orders a multiplicative one.
        Assert.Equal((1.5 * a * a / 2) + (tau * 10), DistributedDiscreteGaussian.RdpOneStep(entry, 1.5), 10);
    }

    [Fact]
    public void RoundingBoundsMatchTheHandComputedValues()
    {
        // c·s = 100, d = 100: unconditional bound 100 + √100 = 110.
        Assert.Equal(110, DistributedDiscreteGaussian.RoundedL2Bound(100, 100, 0), 12);
        // β = e^{−1/2} makes √(2 ln(1/β)) = 1: √(100² + 100/4 + 1·(100 + 10/2)) = √10130.
        Assert.Equal(Math.Sqrt(10130), DistributedDiscreteGaussian.RoundedL2Bound(100, 100, Math.Exp(-0.5)), 12);
        // With c·s ≫ √d and a tiny β the conditional bound (√(10⁶ + ¼ + 37.2·1000.5) ≈ 1018) is worse than c·s + √d = 1001.
        Assert.Equal(1001, DistributedDiscreteGaussian.RoundedL2Bound(1000, 1, 1e-300), 9);
        Assert.Equal(9, DistributedDiscreteGaussian.RoundedL1Bound(3, 100), 12);
        Assert.Equal(500, DistributedDiscreteGaussian.RoundedL1Bound(50, 100), 12);
        // Conditional rounding of a tiny vector can bound Δ₂ below one quantum; Δ₁ is then Δ₂, never less.
        double tiny = DistributedDiscreteGaussian.RoundedL2Bound(0.01, 1, 0.5);
        Assert.True(tiny < 1);
        Assert.Equal(tiny, DistributedDiscreteGaussian.RoundedL1Bound(tiny, 1), 12);
        Assert.NotNull(DistributedDiscreteGaussian.ForQuantizedUpdates(0.01, 1, 1, 0.5, 1, 2, 1));

        var entry = DistributedDiscreteGaussian.ForQuantizedUpdates(2, 50, 100, 0, 7, 5, 0.5, 3);
        Assert.Equal(110, entry.L2Sensitivity, 12);
        Assert.Equal(1100, entry.L1Sensitivity, 12);
        Assert.Equal(3, entry.Steps);
    }

    [Theory]
    [InlineData(0.1, 2.0, 5)]
    [InlineData(0.01, 0.8, 12)]
    [InlineData(0.5, 1.3, 40)]
    public void ZhuWangSumWithTailFactorOneIsMironovsSampledGaussian(double q, double sigma, int alpha)
    {
        // With ε(l) = l/(2σ²) the bound's terms are Mironov's A_α terms; only the general tail factor 3 differs.
        double exact = RdpAccountant.ComputeRdp(q, sigma, 1, alpha);
        double tight = DistributedDiscreteGaussian.PoissonSubsampledUpperBound(q, alpha, l => l / (2 * sigma * sigma), tailFactor: 1);
        double general = DistributedDiscreteGaussian.PoissonSubsampledUpperBound(q, alpha, l => l / (2 * sigma * sigma));
        Assert.Equal(exact, tight, 9);
        Assert.True(general >= exact);
        Assert.True(general <= alpha / (2 * sigma * sigma) + 1e-12);
    }

    [Fact]
    public void TfPrivacyKnownAnswerThroughTheZhuWangSum()
    {
        // TF-Privacy compute_rdp(q = 0.1, σ = 2, steps = 10, α = 5) = 0.07737.
        double tight = DistributedDiscreteGaussian.PoissonSubsampledUpperBound(0.1, 5, l => l / 8.0, tailFactor: 1);
        Assert.Equal(0.07737, 10 * tight, 5);
    }

    [Fact]
    public void SamplingAmplifiesButNeverBelowTheExactSampledGaussian()
    {
        var full = new DistributedDiscreteGaussianSteps(1, 1000, 30_000, 400, 16, 900);
        var sampled = new DistributedDiscreteGaussianSteps(0.05, 1000, 30_000, 400, 16, 900);
        double z = sampled.EffectiveNoiseMultiplier; // 1.6
        foreach (double a in SomeOrders)
        {
            double s = DistributedDiscreteGaussian.RdpOneStep(sampled, a);
            Assert.True(s < DistributedDiscreteGaussian.RdpOneStep(full, a));
            Assert.True(s >= RdpAccountant.ComputeRdp(0.05, z, 1, a) - 1e-15);
        }

        // A fractional order is charged the next integer order's value.
        Assert.Equal(DistributedDiscreteGaussian.RdpOneStep(sampled, 4), DistributedDiscreteGaussian.RdpOneStep(sampled, 3.1));
        Assert.Equal(DistributedDiscreteGaussian.RdpOneStep(sampled, 2), DistributedDiscreteGaussian.RdpOneStep(sampled, 1.2));
    }

    [Fact]
    public void StepsComposeLinearlyAndEpsilonGrowsWithRounds()
    {
        var one = new DistributedDiscreteGaussianSteps(0.2, 500, 5000, 100, 20, 100);
        var ten = new DistributedDiscreteGaussianSteps(0.2, 500, 5000, 100, 20, 100, 10);
        double[] orders = [2, 5, 20];
        var rdpOne = DistributedDiscreteGaussian.ComputeRdp([one], orders);
        var rdpTen = DistributedDiscreteGaussian.ComputeRdp([ten], orders);
        for (int i = 0; i < orders.Length; i++)
        {
            Assert.Equal(10 * rdpOne[i], rdpTen[i], 12);
        }

        double previous = 0;
        for (long t = 1; t <= 64; t *= 2)
        {
            double eps = DistributedDiscreteGaussian.GetPrivacySpent([one with { }, new DistributedDiscreteGaussianSteps(0.2, 500, 5000, 100, 20, 100, t)], 1e-5).Epsilon;
            Assert.True(eps > previous);
            previous = eps;
        }
    }

    [Fact]
    public void BadInputIsRefusedWithTheReason()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(0, 1, 1, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1.5, 1, 1, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 0, 1, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, double.NaN, 1, 1, 1, 1));
        var l1 = Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 5, 4, 1, 1, 1));
        Assert.Contains("at least Δ₂", l1.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 1, 1, 0, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 1, 1, double.PositiveInfinity, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 1, 1, 1, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 1, 1, 1, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDiscreteGaussianSteps(1, 1, 1, 1, 1, 1, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.RoundedL2Bound(10, 10, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.RoundedL2Bound(10, 10, -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.RoundedL2Bound(0, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.RoundedL2Bound(1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.ForQuantizedUpdates(1, 0, 10, 0, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.Tau(-1, 3));
        var entry = new DistributedDiscreteGaussianSteps(1, 1, 1, 1, 1, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.RdpOneStep(entry, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedDiscreteGaussian.GetPrivacySpent([entry], 0));
    }
}
