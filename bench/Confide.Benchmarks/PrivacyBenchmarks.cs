using BenchmarkDotNet.Attributes;
using Confide.Privacy;
using Confide.Randomness;

namespace Confide.Benchmarks;

/// <summary>
/// Accountant, calibration and noise-sampling costs.
/// Run: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*PrivacyBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class PrivacyBenchmarks
{
    private const int NoiseLength = 10_000_000;
    private readonly double[] _orders = [.. RdpAccountant.DefaultOrders];
    private readonly float[] _noiseTarget = new float[NoiseLength];
    private readonly long[] _discrete = new long[10_000];
    private readonly GaussianNoise _crypto = new(CryptoRandomSource.Instance);
    private readonly GaussianNoise _seeded = new(new SeededRandomSource(1));
    private readonly DiscreteGaussian _discreteGaussian = new(10.0);
    private readonly SeededRandomSource _discreteSource = new(2);

    /// <summary>ε for 10⁵ steps at Opacus's 151 default orders (cost independent of the steps).</summary>
    [Benchmark]
    public PrivacySpent Epsilon100kStepsDefaultOrders() =>
        RdpAccountant.GetPrivacySpent(_orders, RdpAccountant.ComputeRdp(0.04, 1.5, 100_000, _orders), 1e-5);

    /// <summary>Smallest σ for ε = 7.33, δ = 1e-5, q = 0.04, T = 2250 (bisection to 1e-6).</summary>
    [Benchmark]
    public double CalibrateNoiseMultiplier() => NoiseCalibration.CalibrateNoiseMultiplier(7.32911117143, 1e-5, 0.04, 2250);

    /// <summary>10⁷ float Gaussian samples from the OS CSPRNG (the production path).</summary>
    [Benchmark]
    public void GaussianNoiseCrypto10M() => _crypto.AddTo(_noiseTarget, 1.0);

    /// <summary>10⁷ float Gaussian samples from the seeded xoshiro source.</summary>
    [Benchmark]
    public void GaussianNoiseSeeded10M() => _seeded.AddTo(_noiseTarget, 1.0);

    /// <summary>10⁴ exact discrete Gaussian samples at σ = 10.</summary>
    [Benchmark]
    public void DiscreteGaussian10k() => _discreteGaussian.Sample(_discreteSource, _discrete);
}
