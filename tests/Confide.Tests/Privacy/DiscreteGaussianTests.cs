using System.Numerics;
using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Tests.Privacy;

public sealed class DiscreteGaussianTests
{
    [Theory]
    [InlineData(1.0, 60_000)]
    [InlineData(3.7, 60_000)]
    [InlineData(25.0, 40_000)]
    public void MeanAndVarianceMatchWithinTheirStandardErrors(double sigma, int n)
    {
        var dg = new DiscreteGaussian(sigma);
        var x = new long[n];
        dg.Sample(new SeededRandomSource(21), x);
        double mean = x.Average(v => (double)v);
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        // For σ ≥ 1 the discrete Gaussian's variance equals σ² to within 2.2e-7 relative (mpmath: 0.9999997888 at σ = 1),
        // far inside the statistical tolerance.
        double s2 = sigma * sigma;
        Assert.InRange(mean, -5 * sigma / Math.Sqrt(n), 5 * sigma / Math.Sqrt(n));
        Assert.InRange(variance, s2 * (1 - (5 * Math.Sqrt(2.0 / n))), s2 * (1 + (5 * Math.Sqrt(2.0 / n))));
    }

    [Fact]
    public void ProbabilitiesMatchTheExactMassFunctionAndAreSymmetric()
    {
        // σ = 1.5: P(k) = exp(−k²/(2σ²)) / Σ_j exp(−j²/(2σ²)); chi-square over k = −5..5 plus the two tails.
        const double sigma = 1.5;
        const int n = 100_000;
        var dg = new DiscreteGaussian(sigma);
        var rng = new SeededRandomSource(8);
        var counts = new Dictionary<long, int>();
        for (int i = 0; i < n; i++)
        {
            long v = Math.Clamp(dg.Sample(rng), -6, 6);
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }

        double z = 0;
        for (int j = -60; j <= 60; j++)
        {
            z += Math.Exp(-j * j / (2 * sigma * sigma));
        }

        double P(int k) => Math.Exp(-k * k / (2 * sigma * sigma)) / z;
        double tail = 0;
        for (int j = 6; j <= 60; j++)
        {
            tail += P(j);
        }

        double chi2 = 0;
        for (int k = -6; k <= 6; k++)
        {
            double expected = n * (Math.Abs(k) == 6 ? tail : P(k));
            double d = counts.GetValueOrDefault(k) - expected;
            chi2 += d * d / expected;
        }

        // 12 degrees of freedom: the 0.999 quantile is 32.91.
        Assert.True(chi2 < 32.91, $"chi-square {chi2}");

        // Symmetry: n₊ − n₋ is a difference of counts with variance ≈ n₊ + n₋.
        long pos = counts.Where(kv => kv.Key > 0).Sum(kv => kv.Value);
        long neg = counts.Where(kv => kv.Key < 0).Sum(kv => kv.Value);
        Assert.True(Math.Abs(pos - neg) < 5 * Math.Sqrt(pos + neg), $"{pos} positive vs {neg} negative");
    }

    [Theory]
    [InlineData(3, 2, false)]
    [InlineData(3, 2, true)]
    [InlineData(1, 3, false)]
    [InlineData(1, 3, true)]
    [InlineData(7, 7, true)]
    public void BernoulliExpIsExact(int num, int den, bool wide)
    {
        // Bernoulli(exp(−num/den)) through the BigInteger or the 128-bit version: frequency within 5 standard errors.
        const int n = 100_000;
        var rng = new SeededRandomSource(4);
        int ones = 0;
        for (int i = 0; i < n; i++)
        {
            bool b = wide
                ? DiscreteGaussian.BernoulliExpMinus(rng, (UInt128)(uint)num, (UInt128)(uint)den)
                : DiscreteGaussian.BernoulliExpMinus(rng, new BigInteger(num), new BigInteger(den));
            ones += b ? 1 : 0;
        }

        double p = Math.Exp(-(double)num / den);
        Assert.InRange(ones / (double)n, p - (5 * Math.Sqrt(p * (1 - p) / n)), p + (5 * Math.Sqrt(p * (1 - p) / n)));
    }

    [Fact]
    public void WideVarianceParameterUsesTheExactBigIntegerPath()
    {
        // σ² = (10⁴⁰ + 1)/10³⁸ ≈ 100: the numerator exceeds 2⁶², so every sample takes the BigInteger path.
        var dg = DiscreteGaussian.FromVariance(BigInteger.Pow(10, 40) + 1, BigInteger.Pow(10, 38));
        const int n = 20_000;
        var x = new long[n];
        dg.Sample(new SeededRandomSource(6), x);
        double mean = x.Average(v => (double)v);
        double variance = x.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        Assert.InRange(mean, -5 * 10 / Math.Sqrt(n), 5 * 10 / Math.Sqrt(n));
        Assert.InRange(variance, 100 * (1 - (5 * Math.Sqrt(2.0 / n))), 100 * (1 + (5 * Math.Sqrt(2.0 / n))));
    }

    [Fact]
    public void VarianceParameterIsTheExactSquareOfTheDouble()
    {
        var dg = new DiscreteGaussian(1.5); // 3/2 exactly, so σ² = 9/4
        Assert.Equal((new BigInteger(9), new BigInteger(4)), dg.VarianceParameter);
        var r = DiscreteGaussian.FromVariance(10, 4);
        Assert.Equal((new BigInteger(5), new BigInteger(2)), r.VarianceParameter);
        Assert.Equal(Math.Sqrt(2.5), r.Sigma, 14);
    }

    [Fact]
    public void BadParametersAndOverflowThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiscreteGaussian(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiscreteGaussian(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => DiscreteGaussian.FromVariance(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DiscreteGaussian.FromVariance(1, -1));
        var values = new long[64];
        Array.Fill(values, long.MaxValue);
        Assert.Throws<OverflowException>(() => new DiscreteGaussian(100).AddTo(new SeededRandomSource(1), values));
    }
}
