namespace Confide.Privacy;

/// <summary>
/// A run of <see cref="Steps"/> releases of the Poisson-subsampled Gaussian mechanism at sampling rate
/// <see cref="SampleRate"/> with noise multiplier <see cref="NoiseMultiplier"/> (noise standard deviation over L2 sensitivity).
/// </summary>
public sealed record SubsampledGaussianSteps
{
    /// <summary>Validates and builds an entry.</summary>
    /// <exception cref="ArgumentOutOfRangeException">q is outside [0, 1], σ is not a positive finite number, or steps is negative.</exception>
    public SubsampledGaussianSteps(double sampleRate, double noiseMultiplier, long steps)
    {
        RdpAccountant.CheckSampleRate(sampleRate);
        RdpAccountant.CheckNoiseMultiplier(noiseMultiplier);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        SampleRate = sampleRate;
        NoiseMultiplier = noiseMultiplier;
        Steps = steps;
    }

    /// <summary>The Poisson sampling rate q in [0, 1]: each record (client) takes part in a step with probability q.</summary>
    public double SampleRate { get; }

    /// <summary>The noise multiplier σ: noise standard deviation divided by the L2 sensitivity (the clip norm).</summary>
    public double NoiseMultiplier { get; }

    /// <summary>The number of steps (rounds), at least 0.</summary>
    public long Steps { get; }
}
