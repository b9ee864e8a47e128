namespace Confide.Privacy;

/// <summary>
/// A run of <see cref="Steps"/> rounds of the distributed discrete Gaussian mechanism (Kairouz, Liu, Steinke, ICML 2021):
/// each of <see cref="NoiseShares"/> clients adds N_Z(0, σ²) to every one of the <see cref="Dimension"/> coordinates of its
/// integer (quantized) vector, and secure aggregation reveals only the sum. All magnitudes are in quantized units.
/// Validated where built; the privacy it costs is <see cref="DistributedDiscreteGaussian"/>'s.
/// </summary>
public sealed record DistributedDiscreteGaussianSteps
{
    /// <summary>Validates and builds an entry.</summary>
    /// <param name="sampleRate">The Poisson sampling rate q of clients in (0, 1] (1: every client takes part).</param>
    /// <param name="l2Sensitivity">Δ₂: the largest L2 norm of one client's quantized vector (see <see cref="DistributedDiscreteGaussian.RoundedL2Bound"/>).</param>
    /// <param name="l1Sensitivity">Δ₁: the largest L1 norm of one client's quantized vector (see <see cref="DistributedDiscreteGaussian.RoundedL1Bound"/>).</param>
    /// <param name="clientSigma">σ: each client's discrete Gaussian parameter, in quanta.</param>
    /// <param name="noiseShares">n: how many clients' noise the sum is credited with (at least 1).</param>
    /// <param name="dimension">d: the number of noised coordinates.</param>
    /// <param name="steps">The number of rounds, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range (see each parameter), or Δ₁ &lt; Δ₂ (impossible for one vector).</exception>
    public DistributedDiscreteGaussianSteps(double sampleRate, double l2Sensitivity, double l1Sensitivity, double clientSigma, int noiseShares, int dimension, long steps = 1)
    {
        RdpAccountant.CheckSampleRate(sampleRate);
        if (sampleRate == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "The sampling rate must lie in (0, 1]; a round nobody can join releases nothing and needs no entry.");
        }

        if (!(l2Sensitivity > 0) || !double.IsFinite(l2Sensitivity))
        {
            throw new ArgumentOutOfRangeException(nameof(l2Sensitivity), l2Sensitivity, "The L2 sensitivity Δ₂ must be a positive finite number of quanta.");
        }

        if (!(l1Sensitivity >= l2Sensitivity) || !double.IsFinite(l1Sensitivity))
        {
            throw new ArgumentOutOfRangeException(nameof(l1Sensitivity), l1Sensitivity, $"The L1 sensitivity Δ₁ must be finite and at least Δ₂ = {l2Sensitivity:G6} (a vector's L1 norm is never below its L2 norm).");
        }

        if (!(clientSigma > 0) || !double.IsFinite(clientSigma))
        {
            throw new ArgumentOutOfRangeException(nameof(clientSigma), clientSigma, "Each client's noise σ must be a positive finite number of quanta.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(noiseShares);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        SampleRate = sampleRate;
        L2Sensitivity = l2Sensitivity;
        L1Sensitivity = l1Sensitivity;
        ClientSigma = clientSigma;
        NoiseShares = noiseShares;
        Dimension = dimension;
        Steps = steps;
        Tau = DistributedDiscreteGaussian.Tau(clientSigma, noiseShares);
    }

    /// <summary>The Poisson sampling rate q in (0, 1].</summary>
    public double SampleRate { get; }

    /// <summary>Δ₂ in quanta.</summary>
    public double L2Sensitivity { get; }

    /// <summary>Δ₁ in quanta.</summary>
    public double L1Sensitivity { get; }

    /// <summary>σ of each client's discrete Gaussian, in quanta.</summary>
    public double ClientSigma { get; }

    /// <summary>n: the clients whose noise the sum is credited with.</summary>
    public int NoiseShares { get; }

    /// <summary>d: the number of noised coordinates.</summary>
    public int Dimension { get; }

    /// <summary>The number of rounds.</summary>
    public long Steps { get; }

    /// <summary>τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)): how far the sum of n discrete Gaussians is from one (0 when n = 1).</summary>
    public double Tau { get; }

    /// <summary>
    /// √n·σ/Δ₂: the noise multiplier of the continuous Gaussian mechanism this one approaches as τ → 0 (for display, and
    /// for comparison with central DP; the accounting uses the full curve).
    /// </summary>
    public double EffectiveNoiseMultiplier => Math.Sqrt(NoiseShares) * ClientSigma / L2Sensitivity;
}
