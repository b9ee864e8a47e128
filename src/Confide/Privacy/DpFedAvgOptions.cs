using Confide.Parameters;

namespace Confide.Privacy;

/// <summary>
/// Settings of <see cref="DpFedAvg"/>. Build them with <see cref="Fixed"/> or <see cref="Adaptive"/>.
/// </summary>
public sealed record DpFedAvgOptions
{
    private DpFedAvgOptions(double noiseMultiplier, double clipNorm, AdaptiveClippingOptions? adaptive, int expectedClientsPerRound, long population, ClippingPlacement placement, ParameterLayout? perLayer = null)
    {
        RdpAccountant.CheckNoiseMultiplier(noiseMultiplier);
        L2Clipping.CheckClipNorm(clipNorm);
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedClientsPerRound, 1);
        if (population < expectedClientsPerRound)
        {
            throw new ArgumentOutOfRangeException(nameof(population), population, $"The population ({population}) must be at least the expected clients per round ({expectedClientsPerRound}).");
        }

        if (!Enum.IsDefined(placement))
        {
            throw new ArgumentOutOfRangeException(nameof(placement), placement, "Unknown clipping placement.");
        }

        NoiseMultiplier = noiseMultiplier;
        ClipNorm = clipNorm;
        AdaptiveClipping = adaptive;
        ExpectedClientsPerRound = expectedClientsPerRound;
        Population = population;
        Placement = placement;
        if (perLayer is not null && perLayer.Tensors.Count == 0)
        {
            throw new ArgumentException("Per-layer clipping needs a layout with at least one tensor.", nameof(perLayer));
        }

        PerLayerClipping = perLayer;
        UpdateNoiseMultiplier = adaptive is null ? noiseMultiplier : Privacy.AdaptiveClipping.UpdateNoiseMultiplier(noiseMultiplier, adaptive.CountNoiseStdDev);
    }

    /// <summary>DP-FedAvg with a fixed clip norm C.</summary>
    /// <param name="noiseMultiplier">z: noise standard deviation on the sum is z·C.</param>
    /// <param name="clipNorm">C.</param>
    /// <param name="expectedClientsPerRound">m: the expected number of clients sampled per round; the noisy sum is divided by m.</param>
    /// <param name="population">N: the number of clients; the sampling rate q = m/N is what the ledger charges.</param>
    /// <param name="placement">Who clips.</param>
    /// <param name="perLayerClipping">When given, each tensor of this layout is clipped to C/√L (L tensors) instead of the
    /// whole update to C; the sensitivity of the sum is still C, so the noise is unchanged. Null clips globally.</param>
    public static DpFedAvgOptions Fixed(double noiseMultiplier, double clipNorm, int expectedClientsPerRound, long population, ClippingPlacement placement, ParameterLayout? perLayerClipping = null) =>
        new(noiseMultiplier, clipNorm, null, expectedClientsPerRound, population, placement, perLayerClipping);

    /// <summary>DP-FedAvg with adaptive clipping; <paramref name="noiseMultiplier"/> is the effective z charged per round.</summary>
    /// <exception cref="ArgumentOutOfRangeException">2σ_b ≤ z (see <see cref="Privacy.AdaptiveClipping.UpdateNoiseMultiplier"/>), or another value is out of range.</exception>
    public static DpFedAvgOptions Adaptive(double noiseMultiplier, AdaptiveClippingOptions adaptiveClipping, int expectedClientsPerRound, long population, ClippingPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(adaptiveClipping);
        return new(noiseMultiplier, adaptiveClipping.InitialClipNorm, adaptiveClipping, expectedClientsPerRound, population, placement);
    }

    /// <summary>z, the noise multiplier charged per round (with adaptive clipping: the effective one of both releases).</summary>
    public double NoiseMultiplier { get; }

    /// <summary>The fixed clip norm, or the initial one with adaptive clipping.</summary>
    public double ClipNorm { get; }

    /// <summary>Adaptive clipping settings, or null for a fixed clip norm.</summary>
    public AdaptiveClippingOptions? AdaptiveClipping { get; }

    /// <summary>m.</summary>
    public int ExpectedClientsPerRound { get; }

    /// <summary>N.</summary>
    public long Population { get; }

    /// <summary>The layout whose tensors are clipped one by one to C/√L, or null for global clipping (the only choice with adaptive clipping).</summary>
    public ParameterLayout? PerLayerClipping { get; }

    /// <summary>Who clips.</summary>
    public ClippingPlacement Placement { get; }

    /// <summary>q = m/N.</summary>
    public double SampleRate => (double)ExpectedClientsPerRound / Population;

    /// <summary>z_Δ, the multiplier of the noise on the update sum: z itself, or (z⁻² − (2σ_b)⁻²)^(−1/2) with adaptive clipping.</summary>
    public double UpdateNoiseMultiplier { get; }
}
