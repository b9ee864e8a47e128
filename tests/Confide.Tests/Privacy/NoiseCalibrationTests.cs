using Confide.Privacy;

namespace Confide.Tests.Privacy;

public sealed class NoiseCalibrationTests
{
    [Fact]
    public void RecoversTheOpacusNoiseMultiplier()
    {
        // The Opacus known answer says σ = 1.5 gives ε = 7.32911117143; asking for that ε must give σ ≈ 1.5.
        double sigma = NoiseCalibration.CalibrateNoiseMultiplier(7.32911117143, 1e-5, 0.04, 2250);
        Assert.InRange(sigma, 1.5 - 1e-5, 1.5 + 1e-5);
    }

    [Theory]
    [InlineData(1.0, 1e-5, 0.01, 1000)]
    [InlineData(8.0, 1e-6, 0.1, 50)]
    [InlineData(3.0, 1e-5, 1.0, 10)]
    public void ResultMeetsTargetAndIsMinimalWithinTolerance(double eps, double delta, double q, long steps)
    {
        const double tol = 1e-6;
        double sigma = NoiseCalibration.CalibrateNoiseMultiplier(eps, delta, q, steps, tol);
        Assert.True(RdpAccountant.GetPrivacySpent(q, sigma, steps, delta).Epsilon <= eps);
        Assert.True(RdpAccountant.GetPrivacySpent(q, sigma - (2 * tol), steps, delta).Epsilon > eps);
    }

    [Fact]
    public void BadInputsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseCalibration.CalibrateNoiseMultiplier(0, 1e-5, 0.1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseCalibration.CalibrateNoiseMultiplier(1, 0, 0.1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseCalibration.CalibrateNoiseMultiplier(1, 1e-5, 0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseCalibration.CalibrateNoiseMultiplier(1, 1e-5, 1.5, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseCalibration.CalibrateNoiseMultiplier(1, 1e-5, 0.1, 0));
        // ε = 0.01 at δ = 1e-5 is below what the RDP conversion can certify at the default orders.
        var ex = Assert.Throws<ArgumentException>(() => NoiseCalibration.CalibrateNoiseMultiplier(0.01, 1e-5, 0.1, 10));
        Assert.Contains("Raise ε or δ", ex.Message, StringComparison.Ordinal);
    }
}
