using Confide.Privacy;

namespace Confide.Tests.Privacy;

public sealed class DistributedNoiseCalibrationTests
{
    [Theory]
    [InlineData(8.0, 20, 100)]
    [InlineData(2.0, 50, 10)]
    public void AtFineQuantizationAndFullParticipationItIsTheContinuousCalibration(double eps, long rounds, int n)
    {
        // τ underflows to 0 at this σ, so the curve is the Gaussian's at z = √n·σ/Δ₂ with Δ₂ = c·s + √d (β = 0).
        const double clip = 1, scale = 1 << 16;
        const int d = 4810;
        double sigma = DistributedNoiseCalibration.CalibrateClientSigma(eps, 1e-5, 1, rounds, n, clip, scale, d, 0);
        double delta2 = (clip * scale) + Math.Sqrt(d);
        double z = NoiseCalibration.CalibrateNoiseMultiplier(eps, 1e-5, 1, rounds);
        Assert.Equal(z, Math.Sqrt(n) * sigma / delta2, 5);
    }

    [Theory]
    [InlineData(8.0, 1e-5, 1.0, 20L, 100, 0.0)]
    [InlineData(3.0, 1e-5, 0.1, 50L, 10, 0.6065306597126334)]
    [InlineData(4.0, 1e-6, 1.0, 5L, 40, 0.0)]
    public void ResultMeetsTheTargetAndIsMinimalWithinTolerance(double eps, double delta, double q, long rounds, int n, double beta)
    {
        const double tol = 1e-7;
        const double clip = 0.5, scale = 64;
        const int d = 300;
        double sigma = DistributedNoiseCalibration.CalibrateClientSigma(eps, delta, q, rounds, n, clip, scale, d, beta, tol);
        PrivacySpent At(double s) => DistributedDiscreteGaussian.GetPrivacySpent(
            [DistributedDiscreteGaussian.ForQuantizedUpdates(clip, scale, d, beta, s, n, q, rounds)], delta);
        Assert.True(At(sigma).Epsilon <= eps);
        Assert.True(At(sigma * (1 - (3 * tol))).Epsilon > eps);
    }

    [Fact]
    public void CoarseQuantizationNeedsMoreNoiseInUnitsOfTheClipNorm()
    {
        // The same ε with s = 4 quanta per unit instead of 2^16: √d dominates Δ₂, so σ/s (noise in update units) grows.
        double fine = DistributedNoiseCalibration.CalibrateClientSigma(4, 1e-5, 1, 10, 20, 1, 1 << 16, 1000, 0) / (1 << 16);
        double coarse = DistributedNoiseCalibration.CalibrateClientSigma(4, 1e-5, 1, 10, 20, 1, 4, 1000, 0) / 4;
        Assert.True(coarse > 5 * fine, $"coarse {coarse}, fine {fine}");
    }

    [Fact]
    public void FewerSurvivorsNeedMoreNoiseEach()
    {
        double many = DistributedNoiseCalibration.CalibrateClientSigma(4, 1e-5, 1, 10, 100, 1, 1024, 100, 0);
        double few = DistributedNoiseCalibration.CalibrateClientSigma(4, 1e-5, 1, 10, 25, 1, 1024, 100, 0);
        Assert.Equal(2, few / many, 3);
    }

    [Fact]
    public void BadInputsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(0, 1e-5, 1, 10, 10, 1, 16, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(1, 1, 1, 10, 10, 1, 16, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(1, 1e-5, 0, 10, 10, 1, 16, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(1, 1e-5, 1, 0, 10, 1, 16, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(1, 1e-5, 1, 10, 0, 1, 16, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(1, 1e-5, 1, 10, 10, -1, 16, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedNoiseCalibration.CalibrateClientSigma(1, 1e-5, 1, 10, 10, 1, 16, 10, 1));
        var ex = Assert.Throws<ArgumentException>(() => DistributedNoiseCalibration.CalibrateClientSigma(0.001, 1e-5, 1, 10, 10, 1, 16, 10, 0));
        Assert.Contains("Raise ε or δ", ex.Message, StringComparison.Ordinal);
    }
}
