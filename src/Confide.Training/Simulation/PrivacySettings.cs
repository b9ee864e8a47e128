namespace Confide.Training.Simulation;

/// <summary>The differential-privacy settings of a run.</summary>
/// <param name="NoiseMultiplier">z, given or calibrated (distributed DP: the effective √n_min·σ/Δ₂, for comparison only).</param>
/// <param name="ClipNorm">C.</param>
/// <param name="SampleRate">q = m/N, the Poisson sampling rate charged per round.</param>
/// <param name="Delta">δ.</param>
/// <param name="TargetEpsilon">The ε z was calibrated for, or null when z was given.</param>
/// <param name="Distributed">The distributed-DP parameters, or null when the server adds the noise (central DP).</param>
public sealed record PrivacySettings(double NoiseMultiplier, double ClipNorm, double SampleRate, double Delta, double? TargetEpsilon, DistributedDpSettings? Distributed = null)
{
    /// <summary>Where the noise is added.</summary>
    public DpPlacement Placement => Distributed is null ? DpPlacement.Central : DpPlacement.Distributed;
}
