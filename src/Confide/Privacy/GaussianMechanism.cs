namespace Confide.Privacy;

/// <summary>
/// The Gaussian mechanism on a sum of L2-clipped contributions: adds N(0, σ²C²) to every coordinate of the sum, where C
/// bounds each contributor's L2 norm (the sensitivity under adding or removing one contributor) and σ is the noise
/// multiplier (Dwork and Roth, "The Algorithmic Foundations of Differential Privacy", 2014, §3.5; accounted by
/// <see cref="RdpAccountant"/>). The noise goes on the sum once, never on each contribution and never scaled by sample counts.
/// </summary>
public sealed class GaussianMechanism
{
    /// <summary>Builds the mechanism for noise multiplier σ and sensitivity (clip norm) C.</summary>
    /// <exception cref="ArgumentOutOfRangeException">σ or C is not a positive finite number.</exception>
    public GaussianMechanism(double noiseMultiplier, double clipNorm)
    {
        RdpAccountant.CheckNoiseMultiplier(noiseMultiplier);
        L2Clipping.CheckClipNorm(clipNorm);
        NoiseMultiplier = noiseMultiplier;
        ClipNorm = clipNorm;
    }

    /// <summary>σ, the noise standard deviation over the sensitivity.</summary>
    public double NoiseMultiplier { get; }

    /// <summary>C, the L2 sensitivity of the sum.</summary>
    public double ClipNorm { get; }

    /// <summary>σC, the per-coordinate noise standard deviation.</summary>
    public double StandardDeviation => NoiseMultiplier * ClipNorm;

    /// <summary>Adds N(0, σ²C²) to each coordinate of <paramref name="sum"/>, which must be a sum of contributions clipped to C.</summary>
    public void AddNoise(Span<float> sum, IGaussianNoise noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        noise.AddTo(sum, StandardDeviation);
    }
}
