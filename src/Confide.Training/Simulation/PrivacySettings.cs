namespace Confide.Training.Simulation;

/// <summary>The differential-privacy settings of a run.</summary>
/// <param name="NoiseMultiplier">z, given or calibrated.</param>
/// <param name="ClipNorm">C.</param>
/// <param name="SampleRate">q = m/N, the Poisson sampling rate charged per round.</param>
/// <param name="Delta">δ.</param>
/// <param name="TargetEpsilon">The ε z was calibrated for, or null when z was given.</param>
public sealed record PrivacySettings(double NoiseMultiplier, double ClipNorm, double SampleRate, double Delta, double? TargetEpsilon);
