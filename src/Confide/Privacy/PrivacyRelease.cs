namespace Confide.Privacy;

/// <summary>
/// One DP release recorded in a <see cref="PrivacyLedger"/>: in round <see cref="Round"/>, <see cref="Steps"/> applications
/// of the subsampled Gaussian mechanism named <see cref="Mechanism"/> at rate q and noise multiplier σ.
/// </summary>
public sealed record PrivacyRelease
{
    /// <summary>Validates and builds a release.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The round or steps is negative, q is outside [0, 1], or σ is not positive and finite.</exception>
    /// <exception cref="ArgumentException">The mechanism name is empty.</exception>
    public PrivacyRelease(long round, string mechanism, double sampleRate, double noiseMultiplier, long steps = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        ArgumentException.ThrowIfNullOrWhiteSpace(mechanism);
        Round = round;
        Mechanism = mechanism;
        Entry = new SubsampledGaussianSteps(sampleRate, noiseMultiplier, steps);
    }

    /// <summary>The federated round (or other sequence number) of the release.</summary>
    public long Round { get; }

    /// <summary>What was released, e.g. "dp-fedavg" or "dp-fedavg+adaptive-clipping".</summary>
    public string Mechanism { get; }

    /// <summary>The sampling rate q.</summary>
    public double SampleRate => Entry.SampleRate;

    /// <summary>The noise multiplier σ (for adaptive clipping: the effective σ of the combined mechanism).</summary>
    public double NoiseMultiplier => Entry.NoiseMultiplier;

    /// <summary>The number of steps.</summary>
    public long Steps => Entry.Steps;

    /// <summary>The accountant entry.</summary>
    public SubsampledGaussianSteps Entry { get; }

    /// <inheritdoc/>
    public override string ToString() => $"round {Round}: {Mechanism} (q = {SampleRate:G6}, σ = {NoiseMultiplier:G6}, steps = {Steps})";
}
