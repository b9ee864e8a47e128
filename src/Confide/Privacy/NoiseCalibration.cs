using Confide.Privacy.Internal;

namespace Confide.Privacy;

/// <summary>
/// Finds the smallest noise multiplier σ for which T steps of the Poisson-subsampled Gaussian mechanism at rate q stay
/// within a target (ε, δ), using <see cref="RdpAccountant"/> (Mironov et al. 2019; Balle et al. 2020 conversion).
/// </summary>
/// <remarks>
/// ε is decreasing in σ, so the search doubles an upper bracket and then bisects until the bracket is narrower than
/// the tolerance. The returned σ is the bracket's upper end: it always meets the target, and it exceeds the exact
/// smallest σ by at most the tolerance.
/// </remarks>
public static class NoiseCalibration
{
    /// <summary>The default absolute tolerance on σ.</summary>
    public const double DefaultTolerance = 1e-6;

    private const double MaxNoiseMultiplier = 1e6;

    /// <summary>The smallest σ (within <paramref name="tolerance"/>) such that ε(q, σ, T, δ) ≤ <paramref name="targetEpsilon"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">ε ≤ 0, δ outside (0, 1), q outside (0, 1], T ≤ 0, or tolerance ≤ 0.</exception>
    /// <exception cref="ArgumentException">The target cannot be met by any σ up to 10⁶ at these orders (ε too small for δ).</exception>
    public static double CalibrateNoiseMultiplier(double targetEpsilon, double delta, double sampleRate, long steps,
        double tolerance = DefaultTolerance, IReadOnlyList<double>? orders = null)
    {
        if (!(targetEpsilon > 0) || double.IsPositiveInfinity(targetEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(targetEpsilon), targetEpsilon, "The target ε must be a positive finite number.");
        }

        RdpAccountant.CheckDelta(delta);
        RdpAccountant.CheckSampleRate(sampleRate);
        if (sampleRate == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "With q = 0 nothing is released and no noise is needed; give q in (0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        if (!(tolerance > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be positive.");
        }

        double Epsilon(double sigma) =>
            RdpAccountant.GetPrivacySpent([new SubsampledGaussianSteps(sampleRate, sigma, steps)], delta, orders).Epsilon;

        return DecreasingSearch.SmallestMeeting(Epsilon, targetEpsilon, 1, MaxNoiseMultiplier, _ => tolerance)
            ?? throw new ArgumentException(
                $"No noise multiplier up to {MaxNoiseMultiplier:G} reaches ε = {targetEpsilon:G} at δ = {delta:G}; the conversion from RDP cannot go below about {Epsilon(MaxNoiseMultiplier):G4} at these orders. Raise ε or δ.",
                nameof(targetEpsilon));
    }
}
