using Confide.Privacy;
using Confide.Privacy.Internal;
using CsCheck;

namespace Confide.Tests.Privacy;

public sealed class RdpAccountantTests
{
    // Reference digits computed independently with mpmath 1.2.1 at 40 digits (Debian's python3-mpmath):
    // integer orders by the exact binomial sum; fractional orders by numerical quadrature of
    // A_α = E_{z~N(0,σ²)}[(1 − q + q·exp((2z − 1)/(2σ²)))^α], which shares no code path with the series used here.

    private static void AssertRelative(double expected, double actual, double tolerance)
    {
        double rel = Math.Abs(actual - expected) / Math.Abs(expected);
        Assert.True(rel <= tolerance, $"expected {expected:R}, got {actual:R} (relative error {rel:E2})");
    }

    [Fact]
    public void OpacusKnownAnswer()
    {
        // Opacus accountant test: q = 0.04, σ = 1.5, 2250 steps, δ = 1e-5 → ε = 7.32911117143, best α = 3.9.
        var spent = RdpAccountant.GetPrivacySpent(0.04, 1.5, 2250, 1e-5);
        AssertRelative(7.32911117143, spent.Epsilon, 1e-6);
        Assert.Equal(3.9, spent.Order, 12);
        Assert.Equal(1e-5, spent.Delta);
    }

    [Fact]
    public void TfPrivacyComputeRdpIntegerOrder()
    {
        // TF-Privacy compute_rdp(q=0.1, σ=2, steps=10, α=5) = 0.07737 (rounded); mpmath: 0.077369684897958651587.
        AssertRelative(0.077369684897958651587, RdpAccountant.ComputeRdp(0.1, 2, 10, 5.0), 1e-9);
    }

    [Fact]
    public void TfPrivacyComputeRdpFullBatch()
    {
        // TF-Privacy compute_rdp(q=1, σ=10, steps=1, α=20) = 0.1 (= α/(2σ²)).
        AssertRelative(0.1, RdpAccountant.ComputeRdp(1, 10, 1, 20.0), 1e-12);
    }

    [Theory]
    [InlineData(0.1, 2.0, 10, 4.5, 0.068562838064036113535)]
    [InlineData(0.01, 0.8, 1, 2.5, 0.0004894537156697903039)]
    [InlineData(0.04, 1.5, 1, 3.9, 0.0018332021995838585998)]
    [InlineData(0.5, 0.7, 1, 1.3, 0.45770035000377952981)]
    [InlineData(0.001, 5.0, 1, 10.5, 2.1433185212997193947e-7)]
    [InlineData(0.9, 0.8, 1, 2.7, 1.9546981698140012596)]
    [InlineData(0.2, 0.5, 1, 6.5, 11.097937013896539301)]
    public void FractionalOrdersMatchQuadrature(double q, double sigma, long steps, double order, double expected) =>
        AssertRelative(expected, RdpAccountant.ComputeRdp(q, sigma, steps, order), 1e-8);

    [Fact]
    public void FractionalSeriesAgreesWithIntegerFormulaNearIntegers()
    {
        // The two formulas are independent; the series at α = 5 ± 1e-9 must bracket the exact integer value.
        double exact = RdpAccountant.LogAIntegerOrder(0.1, 2, 5);
        double below = RdpAccountant.LogAFractionalOrder(0.1, 2, 5 - 1e-9);
        double above = RdpAccountant.LogAFractionalOrder(0.1, 2, 5 + 1e-9);
        AssertRelative(exact, below, 1e-7);
        AssertRelative(exact, above, 1e-7);
    }

    [Fact]
    public void SampleRateZeroCostsNothing()
    {
        Assert.Equal(0, RdpAccountant.ComputeRdp(0, 1, 1000, 3.5));
        var spent = RdpAccountant.GetPrivacySpent(0, 1, 1000, 1e-5);
        Assert.Equal(0, spent.Epsilon);
        Assert.True(double.IsNaN(spent.Order));
    }

    [Fact]
    public void SampleRateOneIsTheGaussianMechanism()
    {
        foreach (double a in new[] { 1.5, 2.0, 7.3, 63.0 })
        {
            AssertRelative(3 * a / (2 * 0.7 * 0.7), RdpAccountant.ComputeRdp(1, 0.7, 3, a), 1e-12);
        }
    }

    [Fact]
    public void HeterogeneousCompositionIsTheSumOfRdpCurves()
    {
        var orders = RdpAccountant.DefaultOrders.ToArray();
        var a = new SubsampledGaussianSteps(0.01, 1.1, 300);
        var b = new SubsampledGaussianSteps(0.05, 2.0, 70);
        var combined = RdpAccountant.ComputeRdp([a, b], orders);
        var ra = RdpAccountant.ComputeRdp(0.01, 1.1, 300, orders);
        var rb = RdpAccountant.ComputeRdp(0.05, 2.0, 70, orders);
        for (int i = 0; i < orders.Length; i++)
        {
            AssertRelative(ra[i] + rb[i], combined[i], 1e-12);
        }

        var accountant = new RdpAccountant();
        accountant.Step(1.1, 0.01, 100);
        accountant.Step(2.0, 0.05, 70);
        accountant.Step(1.1, 0.01, 200);
        Assert.Equal(3, accountant.History.Count);
        AssertRelative(RdpAccountant.GetPrivacySpent(orders, combined, 1e-6).Epsilon, accountant.GetPrivacySpent(1e-6).Epsilon, 1e-12);
    }

    [Fact]
    public void StepsScaleRdpLinearly()
    {
        double one = RdpAccountant.ComputeRdp(0.02, 1.3, 1, 6.5);
        AssertRelative(100_000 * one, RdpAccountant.ComputeRdp(0.02, 1.3, 100_000, 6.5), 1e-12);
    }

    [Fact]
    public void EpsilonGrowsWithStepsAndSampleRateAndFallsWithNoise()
    {
        var gen = Gen.Select(Gen.Double[0.001, 0.5], Gen.Double[0.5, 5.0], Gen.Long[1, 10_000]);
        gen.Sample((q, sigma, steps) =>
        {
            double e = RdpAccountant.GetPrivacySpent(q, sigma, steps, 1e-5).Epsilon;
            return RdpAccountant.GetPrivacySpent(q, sigma, steps + 1 + (steps / 2), 1e-5).Epsilon >= e
                && RdpAccountant.GetPrivacySpent(Math.Min(1, q * 1.3), sigma, steps, 1e-5).Epsilon >= e
                && RdpAccountant.GetPrivacySpent(q, sigma * 1.2, steps, 1e-5).Epsilon <= e;
        }, iter: 40);
    }

    [Fact]
    public void DefaultOrdersAreOpacus()
    {
        var o = RdpAccountant.DefaultOrders;
        Assert.Equal(151, o.Count);
        Assert.Equal(1.1, o[0], 12);
        Assert.Equal(10.9, o[98], 12);
        Assert.Equal(12, o[99]);
        Assert.Equal(63, o[^1]);
    }

    [Theory]
    [InlineData(-0.1, 1.0, 1L)]
    [InlineData(1.1, 1.0, 1L)]
    [InlineData(double.NaN, 1.0, 1L)]
    [InlineData(0.1, 0.0, 1L)]
    [InlineData(0.1, -1.0, 1L)]
    [InlineData(0.1, double.PositiveInfinity, 1L)]
    [InlineData(0.1, 1.0, -1L)]
    public void BadArgumentsThrow(double q, double sigma, long steps) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.ComputeRdp(q, sigma, steps, 2.0));

    [Fact]
    public void BadOrdersAndDeltaThrow()
    {
        Assert.Throws<ArgumentException>(() => RdpAccountant.ComputeRdp(0.1, 1, 1, 1.0));
        Assert.Throws<ArgumentException>(() => new RdpAccountant([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.GetPrivacySpent(0.1, 1, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.GetPrivacySpent(0.1, 1, 1, 1));
        Assert.Throws<ArgumentException>(() => RdpAccountant.GetPrivacySpent([2.0, 3.0], [0.1], 1e-5));
        Assert.Throws<ArgumentException>(() => RdpAccountant.GetPrivacySpent([2.0], [-0.1], 1e-5));
    }

    [Theory]
    // mpmath log(erfc(x)) at 40 digits.
    [InlineData(0.5, -0.7350111298370844030258793)]
    [InlineData(1.0, -1.849605509933248248576018)]
    [InlineData(2.0, -5.364941264616637574467649)]
    [InlineData(3.0, -10.72036304198111256773089)]
    [InlineData(5.0, -27.20088954553743442244204)]
    [InlineData(10.0, -102.8798890248448885748048)]
    [InlineData(30.0, -903.9741171106438780796002)]
    [InlineData(100.0, -10005.17758512266433257047)]
    [InlineData(-1.0, 0.6112323176780704946426819)]
    public void LogErfcMatchesHighPrecision(double x, double expected) =>
        Assert.True(Math.Abs(LogMath.LogErfc(x) - expected) <= 1e-11 * Math.Max(1, Math.Abs(expected)), $"log erfc({x}) = {LogMath.LogErfc(x):R}, expected {expected:R}");

    [Fact]
    public void LogErfcIsContinuousAcrossTheSwitch()
    {
        // The series serves x < 3 and the continued fraction x ≥ 3: they must meet.
        double below = LogMath.LogErfc(Math.BitDecrement(3.0));
        double at = LogMath.LogErfc(3.0);
        Assert.True(Math.Abs(below - at) < 1e-10, $"{below:R} vs {at:R}");
        Assert.Equal(0, LogMath.LogErfc(0), 15);
        Assert.True(double.IsNegativeInfinity(LogMath.LogErfc(double.PositiveInfinity)));
    }
}
