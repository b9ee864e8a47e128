namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Distributed DP for <see cref="SecAggSimulation.RunWeightedMean"/>: each client adds discrete Gaussian noise
/// (Canonne, Kamath, Steinke 2020) to its quantized update before masking, with σ chosen so that the decoded weighted
/// sum Σ w·clip(x) carries noise of standard deviation at least <see cref="SumSigma"/> whenever at least
/// <see cref="MinimumSurvivors"/> clients survive (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism",
/// ICML 2021). Validated where built.
/// </summary>
/// <remarks>
/// <para>Per client, in quantized units: σ_c = SumSigma · s / √MinimumSurvivors, where s is the quantizer's scale. With m
/// survivors the sum's noise has variance m·σ_c² ≥ (SumSigma · s)².</para>
/// <para>Each sample is redrawn if it exceeds <see cref="TailBound"/>·σ_c in magnitude (probability below 10^−31 at the
/// default 12), so it fits the headroom the quantizer reserved (<c>QuantizerOptions.NoiseHeadroomPerClient</c>).</para>
/// <para>Accounting: <see cref="PrivacyEntry"/> gives the ledger entry (the sum of independent discrete Gaussians is close
/// to, but not exactly, a discrete Gaussian, and stochastic rounding adds up to √D to the L2 sensitivity; both are in
/// the curve). The weight coordinate is not noised: the total weight is released exactly.</para>
/// </remarks>
public sealed record SecAggNoiseOptions
{
    public SecAggNoiseOptions(double sumSigma, int minimumSurvivors, double tailBound = 12)
    {
        if (!(sumSigma > 0) || !double.IsFinite(sumSigma))
        {
            throw new ArgumentOutOfRangeException(nameof(sumSigma), sumSigma, "The noise standard deviation on the sum must be a finite positive number.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumSurvivors);
        if (!(tailBound >= 4) || !double.IsFinite(tailBound))
        {
            throw new ArgumentOutOfRangeException(nameof(tailBound), tailBound, "The tail bound must be a finite multiple of σ of at least 4.");
        }

        SumSigma = sumSigma;
        MinimumSurvivors = minimumSurvivors;
        TailBound = tailBound;
    }

    /// <summary>The target standard deviation of the noise on Σ w·clip(x), in update units.</summary>
    public double SumSigma { get; }

    /// <summary>The fewest survivors for which the target still holds; fewer survivors carry less noise.</summary>
    public int MinimumSurvivors { get; }

    /// <summary>Samples beyond this many σ_c are redrawn.</summary>
    public double TailBound { get; }

    /// <summary>σ_c in quantized units for a quantizer of scale <paramref name="scale"/>.</summary>
    public double ClientSigma(double scale) => SumSigma * scale / Math.Sqrt(MinimumSurvivors);

    /// <summary>
    /// The privacy-ledger entry for one round of this noise (<see cref="Confide.Privacy.DistributedDiscreteGaussian"/>,
    /// Kairouz, Liu, Steinke 2021) on D-value updates encoded by a quantizer with <paramref name="quantizer"/>'s options,
    /// crediting <see cref="MinimumSurvivors"/> noise shares. Charge it with
    /// <c>new PrivacyRelease(round, "secagg-distributed-dp", entry)</c> before the sum is unmasked.
    /// </summary>
    /// <remarks>
    /// The sensitivity is the quantizer's worst case: each coordinate is clipped to [−c, c] and weighted by at most w_max,
    /// so one client's scaled vector has L2 norm at most w_max·c·s·√D, plus √D from unconditional stochastic rounding.
    /// Clip updates in L2 before quantizing (and use weight 1) for a tighter Δ, as <c>confide simulate --dp-mode
    /// distributed</c> does. The entry covers the D noised coordinates only: the weight coordinate (Σ w) is released
    /// exactly, so sample counts must be public or equal. Samples beyond <see cref="TailBound"/>·σ_c are redrawn, a
    /// truncation the curve does not model (its mass is below 10⁻³¹ per sample at the default bound).
    /// </remarks>
    public Confide.Privacy.DistributedDiscreteGaussianSteps PrivacyEntry(Confide.SecureAggregation.QuantizerOptions quantizer, int dimension, double sampleRate = 1)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        double worstNorm = quantizer.MaxWeight * quantizer.ClipRange * Math.Sqrt(dimension);
        return Confide.Privacy.DistributedDiscreteGaussian.ForQuantizedUpdates(
            worstNorm, quantizer.Scale, dimension, 0, ClientSigma(quantizer.Scale), MinimumSurvivors, sampleRate);
    }

    /// <summary>The per-client headroom, in quantized units, that the quantizer must reserve.</summary>
    public long RequiredHeadroom(double scale) => (long)Math.Ceiling(TailBound * ClientSigma(scale));
}
