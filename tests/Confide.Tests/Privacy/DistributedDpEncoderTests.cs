using System.Numerics;
using Confide.Privacy;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Privacy.Internal;

namespace Confide.Tests.Privacy;

public sealed class DistributedDpEncoderTests
{
    private static readonly StochasticQuantizer Quantizer = new(new QuantizerOptions(1, 1 << 10, 1, 10, 32, noiseHeadroomPerClient: 2000));

    [Fact]
    public void NoiseOnEveryCoordinateHasTheCalibratedSpreadInQuanta()
    {
        // A zero update leaves only the noise: N_Z(0, σ²) with σ = 100 quanta, whose variance is σ² to 10⁻⁷ relative.
        const int D = 4000;
        var sampler = DiscreteGaussian.FromVariance(new BigInteger(10_000), BigInteger.One);
        ulong[] encoded = DistributedDpEncoder.Encode(Quantizer, new float[D], sampler, double.PositiveInfinity, new SeededRandomSource(11));
        Assert.Equal(D + 1, encoded.Length);
        Assert.Equal(1UL, encoded[D]); // the weight coordinate carries no noise

        double[] values = encoded[..D].Select(v => (double)Quantizer.Signed(v)).ToArray();
        double mean = values.Average();
        double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (D - 1));
        // Relative standard error of a sample standard deviation ≈ 1/√(2D) ≈ 1.1 %: allow five of them.
        Assert.InRange(sd, 100 * 0.945, 100 * 1.055);
        Assert.InRange(mean, -5 * 100 / Math.Sqrt(D), 5 * 100 / Math.Sqrt(D));
    }

    [Fact]
    public void ConditionalRoundingKeepsTheNormWithinTheAccountedBound()
    {
        // A unit-norm update at s = 1024 quanta per unit over d = 900: c·s = 1024; β = e^(−1/2) gives the tighter bound.
        const int D = 900;
        IRandomSource random = new SeededRandomSource(12);
        var update = Enumerable.Range(0, D).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        double norm = Math.Sqrt(update.Sum(x => (double)x * x));
        for (int i = 0; i < D; i++)
        {
            update[i] = (float)(update[i] / norm * 0.999999);
        }

        double bound = DistributedDiscreteGaussian.RoundedL2Bound(1024, D, Math.Exp(-0.5));
        Assert.True(bound < 1024 + Math.Sqrt(D));
        for (ulong seed = 0; seed < 20; seed++)
        {
            ulong[] q = DistributedDpEncoder.QuantizeConditionally(Quantizer, update, new SeededRandomSource(100 + seed), bound * bound);
            Assert.True(DistributedDpEncoder.SquaredNorm(Quantizer, q, D) <= bound * bound);
        }

        // An unclipped update cannot meet the bound: refused, not sent with a norm the ledger did not charge for.
        var unclipped = update.Select(x => x * 3).ToArray();
        var ex = Assert.Throws<InvalidOperationException>(() => DistributedDpEncoder.QuantizeConditionally(Quantizer, unclipped, new SeededRandomSource(1), bound * bound));
        Assert.Contains("not clipped", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameSeedGivesTheSameEncoding()
    {
        var sampler = new DiscreteGaussian(5.0);
        var update = new float[] { 0.1f, -0.2f, 0.3f };
        var a = DistributedDpEncoder.Encode(Quantizer, update, sampler, 1e12, new SeededRandomSource(3));
        var b = DistributedDpEncoder.Encode(Quantizer, update, sampler, 1e12, new SeededRandomSource(3));
        var c = DistributedDpEncoder.Encode(Quantizer, update, sampler, 1e12, new SeededRandomSource(4));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }
}
