using Confide.Privacy.Internal;

namespace Confide.Privacy;

/// <summary>
/// The privacy of the distributed discrete Gaussian mechanism: Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian
/// Mechanism for Federated Learning with Secure Aggregation" (ICML 2021, arXiv:2102.06387). Each client clips its update to
/// L2 norm c, scales it by s quanta per unit, rounds it stochastically to the integers, adds N_Z(0, σ²) to every
/// coordinate and sends it under secure aggregation, so only the sum is revealed. This type turns those parameters into a
/// Rényi-DP curve that composes with everything else in a <see cref="PrivacyLedger"/>.
/// </summary>
/// <remarks>
/// <para><b>Sensitivity in quanta</b> (the paper's Theorem 1 and its conditional-rounding proposition): stochastic rounding
/// moves each coordinate by less than one quantum, so a clipped, scaled vector of norm at most c·s rounds to norm below
/// c·s + √d. With conditional rounding (round again until the norm is within the bound; each try fails with probability
/// at most β) the bound is √(c²s² + d/4 + √(2 ln(1/β))·(c·s + √d/2)). <see cref="RoundedL2Bound"/> takes the smaller. For
/// an integer vector the L1 norm is at most max(1, min(√d, Δ₂))·Δ₂ (<see cref="RoundedL1Bound"/>).</para>
/// <para><b>The sum of n discrete Gaussians</b> is not a discrete Gaussian, but it is close to N_Z(0, nσ²): with
/// τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)), one round with sensitivities Δ₂, Δ₁ has RDP at order α at most
/// min{ αΔ₂²/(2nσ²) + τd, (α/2)(Δ₂²/(nσ²) + 2Δ₁τ/(√n σ) + τ²d), (α/2)(Δ₂/(√n σ) + τ√d)² } (the paper's RDP bound behind
/// its Theorem 1). As τ → 0 this is αΔ₂²/(2nσ²), the continuous Gaussian's curve at noise multiplier √n·σ/Δ₂; τ is
/// already below 10⁻³⁰ for n ≤ 10⁴ clients once σ ≥ 3 quanta.</para>
/// <para><b>Sampling clients</b> (q &lt; 1): the round's curve is amplified with the general upper bound for Poisson
/// subsampling of Zhu and Wang, "Poisson Subsampled Rényi Differential Privacy" (ICML 2019, Theorem 6), at integer orders,
/// as the paper's own experiments do; a fractional order α is charged the value at ⌈α⌉ (RDP never decreases with the
/// order), and never more than the unsampled curve. This is an approximation in two ways, both documented in
/// docs/privacy.md: the base mechanism's bound treats neighbouring rounds as differing in one participating client's
/// vector with all n noise shares present (the paper's model), while Poisson sampling changes who participates and
/// hence how many noise shares there are; and amplification only holds against an observer who does not learn who was
/// sampled, which the secure-aggregation server does (it sees the survivor list). Against the server itself the
/// guarantee is the q = 1 curve.</para>
/// <para>Pure math: no randomness, no I/O. Thread-safe.</para>
/// </remarks>
public static class DistributedDiscreteGaussian
{
    /// <summary>
    /// Δ₂ in quanta: the largest L2 norm of a vector of L2 norm at most <paramref name="scaledNorm"/> (= c·s) after stochastic
    /// rounding to the integers, conditionally with failure probability <paramref name="beta"/> per try (0: unconditional,
    /// bound c·s + √d).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">c·s is not a positive finite number, d ≤ 0, or β is outside [0, 1).</exception>
    public static double RoundedL2Bound(double scaledNorm, int dimension, double beta)
    {
        if (!(scaledNorm > 0) || !double.IsFinite(scaledNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(scaledNorm), scaledNorm, "The scaled clip norm c·s must be a positive finite number of quanta.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        CheckBeta(beta);
        double sqrtD = Math.Sqrt(dimension);
        double always = scaledNorm + sqrtD;
        if (beta == 0)
        {
            return always;
        }

        double conditional = Math.Sqrt((scaledNorm * scaledNorm) + (dimension / 4.0) + (Math.Sqrt(2 * Math.Log(1 / beta)) * (scaledNorm + (sqrtD / 2))));
        return Math.Min(always, conditional);
    }

    /// <summary>
    /// Δ₁ in quanta for an integer vector of L2 norm at most <paramref name="l2Bound"/>: max(1, min(√d, Δ₂))·Δ₂ (L1 ≤ √d·L2
    /// for any vector, L1 ≤ L2² for an integer one; below Δ₂ = 1 the only such vector is 0, so Δ₂ itself bounds it).
    /// </summary>
    public static double RoundedL1Bound(double l2Bound, int dimension)
    {
        if (!(l2Bound > 0) || !double.IsFinite(l2Bound))
        {
            throw new ArgumentOutOfRangeException(nameof(l2Bound), l2Bound, "The L2 bound must be a positive finite number of quanta.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        return l2Bound * Math.Max(1, Math.Min(Math.Sqrt(dimension), l2Bound));
    }

    /// <summary>
    /// The entry for <paramref name="steps"/> rounds in which each client clips to L2 norm <paramref name="clipNorm"/>, scales by
    /// <paramref name="scale"/> quanta per unit, rounds (conditionally with <paramref name="beta"/>, or not with 0) and adds
    /// N_Z(0, σ²) with σ = <paramref name="clientSigma"/> quanta, credited with <paramref name="noiseShares"/> clients' noise.
    /// </summary>
    public static DistributedDiscreteGaussianSteps ForQuantizedUpdates(
        double clipNorm, double scale, int dimension, double beta, double clientSigma, int noiseShares, double sampleRate, long steps = 1)
    {
        double l2 = RoundedL2Bound(ScaledNorm(clipNorm, scale), dimension, beta);
        return new DistributedDiscreteGaussianSteps(sampleRate, l2, RoundedL1Bound(l2, dimension), clientSigma, noiseShares, dimension, steps);
    }

    /// <summary>τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)) for n clients each adding N_Z(0, σ²) (σ in quanta).</summary>
    /// <exception cref="ArgumentOutOfRangeException">σ is not a positive finite number or n ≤ 0.</exception>
    public static double Tau(double clientSigma, int noiseShares)
    {
        if (!(clientSigma > 0) || !double.IsFinite(clientSigma))
        {
            throw new ArgumentOutOfRangeException(nameof(clientSigma), clientSigma, "σ must be a positive finite number of quanta.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(noiseShares);
        double c = 2 * Math.PI * Math.PI * clientSigma * clientSigma;
        double sum = 0;
        for (int k = 1; k < noiseShares; k++)
        {
            double term = Math.Exp(-c * k / (k + 1));
            sum += term;
            if (term == 0)
            {
                // Terms decrease in k, so the rest underflow too.
                break;
            }
        }

        return 10 * sum;
    }

    /// <summary>RDP of one round with every client taking part (q = 1) at order α &gt; 1: the minimum of the paper's three bounds.</summary>
    public static double RdpFullParticipation(DistributedDiscreteGaussianSteps entry, double order)
    {
        ArgumentNullException.ThrowIfNull(entry);
        CheckOrder(order);
        double sqrtN = Math.Sqrt(entry.NoiseShares);
        double a = entry.L2Sensitivity / (sqrtN * entry.ClientSigma);
        double b = entry.L1Sensitivity / (sqrtN * entry.ClientSigma);
        double tau = entry.Tau;
        double d = entry.Dimension;
        double first = (order * a * a / 2) + (tau * d);
        double second = order / 2 * ((a * a) + (2 * b * tau) + (tau * tau * d));
        double third = order / 2 * Math.Pow(a + (tau * Math.Sqrt(d)), 2);
        return Math.Min(first, Math.Min(second, third));
    }

    /// <summary>RDP of one round at order α, amplified by Poisson sampling when q &lt; 1 (see the remarks on what that assumes).</summary>
    public static double RdpOneStep(DistributedDiscreteGaussianSteps entry, double order)
    {
        ArgumentNullException.ThrowIfNull(entry);
        double full = RdpFullParticipation(entry, order);
        if (entry.SampleRate == 1)
        {
            return full;
        }

        int integerOrder = checked((int)Math.Max(2, Math.Ceiling(order)));
        double sampled = PoissonSubsampledUpperBound(entry.SampleRate, integerOrder, l => RdpFullParticipation(entry, l));
        return Math.Min(full, sampled);
    }

    /// <summary>The composed RDP curve of <paramref name="entries"/> at <paramref name="orders"/> (each entry counts Steps times).</summary>
    public static double[] ComputeRdp(IEnumerable<DistributedDiscreteGaussianSteps> entries, ReadOnlySpan<double> orders)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var total = new double[orders.Length];
        foreach (var e in entries)
        {
            ArgumentNullException.ThrowIfNull(e);
            AddRdp(e, orders, total);
        }

        return total;
    }

    /// <summary>(ε, δ) of <paramref name="entries"/> at the default orders (or the ones given), by the conversion of <see cref="RdpAccountant"/>.</summary>
    public static PrivacySpent GetPrivacySpent(IEnumerable<DistributedDiscreteGaussianSteps> entries, double delta, IReadOnlyList<double>? orders = null)
    {
        double[] o = [.. orders ?? RdpAccountant.DefaultOrders];
        return RdpAccountant.GetPrivacySpent(o, ComputeRdp(entries, o), delta);
    }

    /// <summary>Adds Steps × the entry's one-round RDP at each order to <paramref name="total"/>.</summary>
    internal static void AddRdp(DistributedDiscreteGaussianSteps entry, ReadOnlySpan<double> orders, Span<double> total)
    {
        if (entry.Steps == 0)
        {
            return;
        }

        for (int i = 0; i < orders.Length; i++)
        {
            total[i] += entry.Steps * RdpOneStep(entry, orders[i]);
        }
    }

    /// <summary>
    /// Zhu and Wang (ICML 2019), Theorem 6: for a mechanism with RDP ε(·) at integer orders and Poisson sampling at rate γ,
    /// the RDP at integer α ≥ 2 is at most (1/(α−1))·log[ (1−γ)^{α−1}(αγ − γ + 1) + C(α,2)γ²(1−γ)^{α−2}e^{ε(2)}
    /// + <paramref name="tailFactor"/>·Σ_{l=3}^{α} C(α,l)γ^l(1−γ)^{α−l}e^{(l−1)ε(l)} ]. The general bound has tail factor 3;
    /// with 1 and ε(l) = l/(2σ²) the sum is exactly Mironov's A_α for the sampled Gaussian (used as a known answer in tests).
    /// </summary>
    internal static double PoissonSubsampledUpperBound(double gamma, int order, Func<int, double> rdp, double tailFactor = 3)
    {
        if (order < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, "The subsampling bound needs an integer order of at least 2.");
        }

        double logGamma = Math.Log(gamma), log1mGamma = LogMath.Log1P(-gamma);
        double logFirst = ((order - 1) * log1mGamma) + Math.Log((order * gamma) - gamma + 1);
        double logBinom2 = Math.Log(order * (order - 1) / 2.0);
        double logSum = LogMath.LogAdd(logFirst, logBinom2 + (2 * logGamma) + ((order - 2) * log1mGamma) + rdp(2));
        double logTail = Math.Log(tailFactor);
        double logBinom = logBinom2; // log C(α, 2)
        for (int l = 3; l <= order; l++)
        {
            logBinom += Math.Log((double)(order - l + 1) / l);
            double term = logTail + logBinom + (l * logGamma) + ((order - l) * log1mGamma) + ((l - 1) * rdp(l));
            logSum = LogMath.LogAdd(logSum, term);
        }

        return Math.Max(0, logSum) / (order - 1);
    }

    internal static double ScaledNorm(double clipNorm, double scale)
    {
        if (!(clipNorm > 0) || !double.IsFinite(clipNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "The clip norm c must be a positive finite number.");
        }

        if (!(scale > 0) || !double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale s (quanta per unit) must be a positive finite number.");
        }

        return clipNorm * scale;
    }

    internal static void CheckBeta(double beta)
    {
        if (!(beta >= 0 && beta < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "The conditional-rounding β must lie in [0, 1) (0: unconditional rounding).");
        }
    }

    private static void CheckOrder(double order)
    {
        if (!(order > 1) || double.IsPositiveInfinity(order))
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, "A Rényi order must be a finite number greater than 1.");
        }
    }
}
