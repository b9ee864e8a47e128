using Confide.Privacy.Internal;

namespace Confide.Privacy;

/// <summary>
/// Finds each client's discrete Gaussian σ (in quanta) for the distributed discrete Gaussian mechanism
/// (<see cref="DistributedDiscreteGaussian"/>; Kairouz, Liu, Steinke, ICML 2021) so that a run stays within a target
/// (ε, δ): the counterpart of <see cref="NoiseCalibration"/> for distributed DP.
/// </summary>
/// <remarks>
/// ε falls as σ grows (both the Δ/(√n σ) terms and τ shrink), so the search doubles an upper bracket and bisects until
/// the bracket is narrower than the relative tolerance. The returned σ is the bracket's upper end: it always meets the
/// target and exceeds the smallest such σ by at most the tolerance times σ.
/// </remarks>
public static class DistributedNoiseCalibration
{
    /// <summary>The default relative tolerance on σ.</summary>
    public const double DefaultRelativeTolerance = 1e-7;

    private const double MaxClientSigma = 1e15;

    /// <summary>
    /// The smallest per-client σ (quanta) for which <paramref name="steps"/> rounds, each credited with
    /// <paramref name="noiseShares"/> clients' noise, at sampling rate q, spend at most <paramref name="targetEpsilon"/> at δ.
    /// </summary>
    /// <param name="targetEpsilon">The ε for the whole run.</param>
    /// <param name="delta">δ.</param>
    /// <param name="sampleRate">Poisson sampling rate q of clients in (0, 1].</param>
    /// <param name="steps">The number of rounds.</param>
    /// <param name="noiseShares">The minimum number of surviving clients the noise is calibrated for.</param>
    /// <param name="clipNorm">c, the L2 clip norm in update units.</param>
    /// <param name="scale">s, quanta per unit.</param>
    /// <param name="dimension">d, the number of noised coordinates.</param>
    /// <param name="beta">Conditional-rounding β in [0, 1) (0: unconditional rounding).</param>
    /// <param name="relativeTolerance">The bisection stops when the bracket is narrower than this fraction of σ.</param>
    /// <param name="orders">Rényi orders (default: <see cref="RdpAccountant.DefaultOrders"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is out of range.</exception>
    /// <exception cref="ArgumentException">No σ up to 10¹⁵ quanta reaches the target (ε too small for δ at these orders).</exception>
    public static double CalibrateClientSigma(
        double targetEpsilon, double delta, double sampleRate, long steps, int noiseShares,
        double clipNorm, double scale, int dimension, double beta,
        double relativeTolerance = DefaultRelativeTolerance, IReadOnlyList<double>? orders = null)
    {
        if (!(targetEpsilon > 0) || double.IsPositiveInfinity(targetEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(targetEpsilon), targetEpsilon, "The target ε must be a positive finite number.");
        }

        RdpAccountant.CheckDelta(delta);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        if (!(relativeTolerance > 0 && relativeTolerance < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(relativeTolerance), relativeTolerance, "The relative tolerance must lie in (0, 1).");
        }

        // Builds (and so validates) every other parameter once before searching.
        var probe = DistributedDiscreteGaussian.ForQuantizedUpdates(clipNorm, scale, dimension, beta, 1, noiseShares, sampleRate, steps);
        double Epsilon(double sigma) => DistributedDiscreteGaussian.GetPrivacySpent(
            [new DistributedDiscreteGaussianSteps(sampleRate, probe.L2Sensitivity, probe.L1Sensitivity, sigma, noiseShares, dimension, steps)], delta, orders).Epsilon;

        double start = Math.Max(1, probe.L2Sensitivity / Math.Sqrt(noiseShares));
        return DecreasingSearch.SmallestMeeting(Epsilon, targetEpsilon, start, MaxClientSigma, hi => relativeTolerance * hi)
            ?? throw new ArgumentException(
                $"No per-client σ up to {MaxClientSigma:G} quanta reaches ε = {targetEpsilon:G} at δ = {delta:G}; the conversion from RDP cannot go that low at these orders. Raise ε or δ.",
                nameof(targetEpsilon));
    }
}
