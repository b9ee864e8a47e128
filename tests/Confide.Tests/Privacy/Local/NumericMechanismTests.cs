using Confide.Privacy.Local;
using Confide.Randomness;

namespace Confide.Tests.Privacy.Local;

public sealed class NumericMechanismTests
{
    [Fact]
    public void LaplaceNoiseHasMeanZeroAndVarianceTwoBSquared()
    {
        var m = new BoundedLaplaceMechanism(0, 10, 2.0);
        Assert.Equal(5.0, m.Scale, 15);
        const int n = 100_000;
        var rng = new SeededRandomSource(12);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = m.Perturb(4.0, rng) - 4.0;
        }

        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        double sd = Math.Sqrt(m.Variance);
        Assert.InRange(mean, -5 * sd / Math.Sqrt(n), 5 * sd / Math.Sqrt(n));
        // Laplace kurtosis is 6, so Var[s²] ≈ (6 − 1)σ⁴/n.
        Assert.InRange(variance, m.Variance * (1 - (5 * Math.Sqrt(5.0 / n))), m.Variance * (1 + (5 * Math.Sqrt(5.0 / n))));
        // Median absolute deviation of Laplace(b) is b ln 2.
        var abs = x.Select(Math.Abs).Order().ToArray();
        Assert.InRange(abs[n / 2], 5 * Math.Log(2) * 0.97, 5 * Math.Log(2) * 1.03);
    }

    [Fact]
    public void GaussianUsesTheClassicalCalibration()
    {
        var m = new BoundedGaussianMechanism(-1, 1, 0.5, 1e-5);
        Assert.Equal(2 * Math.Sqrt(2 * Math.Log(1.25e5)) / 0.5, m.StandardDeviation, 12);
        const int n = 50_000;
        var rng = new SeededRandomSource(13);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = m.Perturb(0.25, rng) - 0.25;
        }

        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        double s2 = m.StandardDeviation * m.StandardDeviation;
        Assert.InRange(mean, -5 * m.StandardDeviation / Math.Sqrt(n), 5 * m.StandardDeviation / Math.Sqrt(n));
        Assert.InRange(variance, s2 * (1 - (5 * Math.Sqrt(2.0 / n))), s2 * (1 + (5 * Math.Sqrt(2.0 / n))));
    }

    [Fact]
    public void SensitivityIsEnforced()
    {
        var rng = new SeededRandomSource(1);
        var laplace = new BoundedLaplaceMechanism(0, 1, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => laplace.Perturb(1.5, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => laplace.Perturb(double.NaN, rng));
        var gaussian = new BoundedGaussianMechanism(0, 1, 0.5, 1e-5);
        Assert.Throws<ArgumentOutOfRangeException>(() => gaussian.Perturb(-0.1, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedLaplaceMechanism(1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedLaplaceMechanism(0, double.PositiveInfinity, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedLaplaceMechanism(-double.MaxValue, double.MaxValue, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedGaussianMechanism(0, 1, 1.0, 1e-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedGaussianMechanism(0, 1, 0.5, 0));
    }
}
