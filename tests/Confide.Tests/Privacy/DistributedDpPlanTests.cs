using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Tests.Privacy;

public sealed class DistributedDpPlanTests
{
    private const int D = 4810;

    [Fact]
    public void TheChosenScaleIsTheLargestPowerOfTwoWhoseNoisySumFits()
    {
        var plan = DistributedDpPlan.ForTargetEpsilon(1, 20, 20, D, 32, DistributedDpPlan.DefaultRoundingBeta, 8, 1e-5, 1, 3);
        double limit = Math.Pow(2, 31) - 1;
        double Bound(double s, long headroom) => 20 * (Math.Ceiling(s) + headroom);

        Assert.Equal(Math.Pow(2, Math.Round(Math.Log2(plan.Scale))), plan.Scale);
        Assert.True(Bound(plan.Scale, plan.NoiseHeadroom) <= limit);
        Assert.Equal((long)Math.Ceiling(12 * plan.ClientSigma), plan.NoiseHeadroom);

        // Twice the scale would not fit: σ calibrated in quanta at 2s needs a headroom that passes the limit.
        double beta = DistributedDpPlan.DefaultRoundingBeta;
        double sigma2 = DistributedNoiseCalibration.CalibrateClientSigma(8, 1e-5, 1, 3, 20, 1, 2 * plan.Scale, D, beta);
        Assert.True(Bound(2 * plan.Scale, (long)Math.Ceiling(12 * Math.Sqrt(Math.Ceiling(sigma2 * sigma2)))) > limit);

        // σ² is an integer, rounded up from the calibrated σ, which meets the target.
        double calibrated = DistributedNoiseCalibration.CalibrateClientSigma(8, 1e-5, 1, 3, 20, 1, plan.Scale, D, DistributedDpPlan.DefaultRoundingBeta);
        Assert.Equal((ulong)Math.Ceiling(calibrated * calibrated), plan.NoiseVariance);
        var spent = DistributedDiscreteGaussian.GetPrivacySpent([plan.Release(20, 1)], 1e-5);
        Assert.True(spent.Epsilon < 8);
    }

    [Fact]
    public void FromANoiseMultiplierTheEffectiveMultiplierIsThatZ()
    {
        var plan = DistributedDpPlan.ForNoiseMultiplier(0.5, 10, 8, 1000, 32, 0, 1.2);
        // σ² is rounded up to an integer, so z can only grow, by less than one part in σ².
        Assert.InRange(plan.EffectiveNoiseMultiplier, 1.2, 1.2 * (1 + (1 / plan.NoiseVariance)) + 1e-12);
        Assert.Equal((0.5 * plan.Scale) + Math.Sqrt(1000), plan.L2Sensitivity, 9);
        Assert.Equal(plan.L2Sensitivity * Math.Sqrt(1000), plan.L1Sensitivity, 6);
    }

    [Fact]
    public void ARoundIsChargedForAtMostTheMinimumSurvivors()
    {
        var plan = DistributedDpPlan.ForNoiseMultiplier(1, 10, 6, 100, 32, 0, 1.0);
        Assert.Equal(6, plan.Release(9, 0.5).NoiseShares);
        Assert.Equal(4, plan.Release(4, 0.5).NoiseShares);
        Assert.Equal(0.5, plan.Release(6, 0.5).SampleRate);
        Assert.Equal(plan.ClientSigma, plan.Release(6, 1).ClientSigma);
    }

    [Fact]
    public void TheConstructorRebuildsTheSamePlanFromItsNumbers()
    {
        var chosen = DistributedDpPlan.ForNoiseMultiplier(1, 10, 6, 100, 32, 0.5, 1.0);
        var rebuilt = new DistributedDpPlan(chosen.ClipNorm, chosen.Scale, chosen.ModulusBits, chosen.MaxClients, chosen.Dimension, chosen.NoiseVariance, chosen.MinimumSurvivors, chosen.Beta);
        Assert.Equal(chosen.L2Sensitivity, rebuilt.L2Sensitivity);
        Assert.Equal(chosen.NoiseHeadroom, rebuilt.NoiseHeadroom);
        Assert.Equal(chosen.Quantizer.Options, rebuilt.Quantizer.Options);
        var update = Enumerable.Range(0, 100).Select(i => (float)(0.05 * Math.Sin(i))).ToArray();
        Assert.Equal(chosen.Encode(update, new SeededRandomSource(3)), rebuilt.Encode(update, new SeededRandomSource(3)));
    }

    [Theory]
    [InlineData("variance", "noise variance")]
    [InlineData("overflow", "could overflow")]
    [InlineData("survivors", "minimum survivors")]
    [InlineData("survivors-high", "minimum survivors")]
    [InlineData("scale", "below one quantum")]
    [InlineData("beta", "β")]
    [InlineData("bits", "modulusBits")]
    [InlineData("clients", "at least 2 clients")]
    public void NumbersThatCannotWorkAreRefused(string fault, string expected)
    {
        double clip = 1, scale = 1 << 16, beta = 0.5;
        int bits = 32, clients = 10, dimension = 100, survivors = 6;
        ulong variance = 10_000;
        switch (fault)
        {
            case "variance": variance = 0; break;
            case "overflow": variance = 1UL << 50; break;
            case "survivors": survivors = 1; break;
            case "survivors-high": survivors = 11; break;
            case "scale": scale = 0.5; break;
            case "beta": beta = 1; break;
            case "bits": bits = 63; break;
            case "clients": clients = 1; break;
        }

        var ex = Assert.ThrowsAny<ArgumentException>(() => new DistributedDpPlan(clip, scale, bits, clients, dimension, variance, survivors, beta));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoScaleFitsWhenTheNoiseAloneFillsTheModulus()
    {
        // z = 10⁵ over 2 survivors: even at one quantum per clip norm, 12σ per client overflows Z_2^16.
        var ex = Assert.Throws<ArgumentException>(() => DistributedDpPlan.ForNoiseMultiplier(1, 50, 2, 10, 16, 0, 1e5));
        Assert.Contains("cannot fit 50 clients", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUpdateOfTheWrongLengthIsRefused()
    {
        var plan = DistributedDpPlan.ForNoiseMultiplier(1, 10, 6, 100, 32, 0, 1.0);
        Assert.Throws<ArgumentException>(() => plan.Encode(new float[99], new SeededRandomSource(1)));
    }
}
