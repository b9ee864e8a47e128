using System.Numerics;
using BenchmarkDotNet.Attributes;
using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Benchmarks;

/// <summary>
/// Distributed DP (Kairouz, Liu, Steinke 2021): accounting, calibration and the per-client noise of the default
/// simulate job (d = 4,810, 100 clients, s = 2^22, σ ≈ 1.2·10⁶ quanta).
/// Run: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*DistributedDpBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class DistributedDpBenchmarks
{
    private const int Dimension = 4810;
    private const double Scale = 1 << 22;
    private const double Sigma = 1_196_110;
    private static readonly double Beta = Math.Exp(-0.5);
    private readonly long[] _noise = new long[Dimension];
    private readonly DiscreteGaussian _sampler = DiscreteGaussian.FromVariance(new BigInteger(Math.Ceiling(Sigma * Sigma)), BigInteger.One);
    private readonly SeededRandomSource _source = new(3);
    private readonly DistributedDiscreteGaussianSteps _full = DistributedDiscreteGaussian.ForQuantizedUpdates(1, Scale, Dimension, Beta, Sigma, 100, 1, 20);
    private readonly DistributedDiscreteGaussianSteps _sampled = DistributedDiscreteGaussian.ForQuantizedUpdates(1, Scale, Dimension, Beta, Sigma, 100, 0.1, 20);

    /// <summary>ε of 20 rounds at q = 1, Opacus's 151 default orders.</summary>
    [Benchmark]
    public PrivacySpent EpsilonFullParticipation() => DistributedDiscreteGaussian.GetPrivacySpent([_full], 1e-5);

    /// <summary>ε of 20 rounds at q = 0.1 (Zhu–Wang sum at each order), 151 default orders.</summary>
    [Benchmark]
    public PrivacySpent EpsilonSampled() => DistributedDiscreteGaussian.GetPrivacySpent([_sampled], 1e-5);

    /// <summary>σ per client for ε = 8, δ = 1e-5, 20 rounds, q = 1, n_min = 100 (relative tolerance 1e-7).</summary>
    [Benchmark]
    public double CalibrateFullParticipation() => DistributedNoiseCalibration.CalibrateClientSigma(8, 1e-5, 1, 20, 100, 1, Scale, Dimension, Beta);

    /// <summary>The same at q = 0.1.</summary>
    [Benchmark]
    public double CalibrateSampled() => DistributedNoiseCalibration.CalibrateClientSigma(8, 1e-5, 0.1, 20, 100, 1, Scale, Dimension, Beta);

    /// <summary>One client's noise for one round: 4,810 exact N_Z(0, σ²) samples at σ ≈ 1.2·10⁶.</summary>
    [Benchmark]
    public void OneClientsNoise() => _sampler.Sample(_source, _noise);

    /// <summary>
    /// A networked client's whole distributed-DP encoding of a clipped 100,000-parameter update (the load size):
    /// conditional stochastic rounding plus 100,000 exact N_Z(0, σ²) samples, for the plan of 100 clients per round at
    /// z = 1 over n_min = 100, Z_2^32 (what <c>confide server --dp-mode distributed --dp-noise 1</c> would send).
    /// </summary>
    [Benchmark]
    public ulong[] OneClientsEncoding100k() => _plan.Encode(_update, _source);

    private readonly DistributedDpPlan _plan = DistributedDpPlan.ForNoiseMultiplier(1, 100, 100, 100_000, 32, Beta, 1.0);
    private readonly float[] _update = Update(100_000);

    private static float[] Update(int length)
    {
        IRandomSource random = new SeededRandomSource(5);
        var update = new float[length];
        for (int i = 0; i < length; i++)
        {
            update[i] = (float)(random.NextDouble() - 0.5);
        }

        L2Clipping.Clip(update, 1.0);
        return update;
    }
}
