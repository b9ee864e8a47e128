namespace Confide.Privacy;

/// <summary>
/// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private Learning with Adaptive Clipping",
/// NeurIPS 2021): the clip norm C follows the γ-quantile of the clients' update norms by the geometric step
/// C ← C · exp(−η (b̄ − γ)), where b̄ is a noisy fraction of clients whose norm was at most C.
/// </summary>
/// <remarks>
/// <para>The count is released as Σᵢ(bᵢ − ½) + N(0, σ_b²), whose sensitivity to adding or removing one client is ½; then
/// b̄ = (that + m/2)/m for m expected clients, so the actual number of participants is not released.</para>
/// <para>Accounting (Andrew et al., Theorem 1): releasing the update sum with noise multiplier z_Δ and the count with σ_b
/// in the same round is, for RDP, one Gaussian mechanism with noise multiplier
/// z = (z_Δ⁻² + (2σ_b)⁻²)^(−1/2). To spend as a plain z per round, run the update at z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2),
/// which needs 2σ_b &gt; z. The ledger charges z.</para>
/// </remarks>
public sealed class AdaptiveClipping
{
    private readonly AdaptiveClippingOptions _options;

    /// <summary>Starts at <see cref="AdaptiveClippingOptions.InitialClipNorm"/>.</summary>
    public AdaptiveClipping(AdaptiveClippingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        ClipNorm = options.InitialClipNorm;
    }

    /// <summary>The clip norm for the next round.</summary>
    public double ClipNorm { get; private set; }

    /// <summary>The settings.</summary>
    public AdaptiveClippingOptions Options => _options;

    /// <summary>
    /// Sets C to a value saved earlier (with the last completed round), so that a restarted server continues the
    /// same sequence of clip norms. Restoring releases nothing: C is a function of already-charged noisy releases.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clipNorm"/> is not a finite number &gt; 0.</exception>
    public void Restore(double clipNorm)
    {
        if (!(clipNorm > 0) || !double.IsFinite(clipNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "A restored clip norm must be a finite number > 0.");
        }

        ClipNorm = clipNorm;
    }

    /// <summary>The effective noise multiplier of the update (z_Δ) and count (σ_b) releases together: (z_Δ⁻² + (2σ_b)⁻²)^(−1/2).</summary>
    public static double EffectiveNoiseMultiplier(double updateNoiseMultiplier, double countNoiseStdDev)
    {
        RdpAccountant.CheckNoiseMultiplier(updateNoiseMultiplier);
        RdpAccountant.CheckNoiseMultiplier(countNoiseStdDev);
        double b = 2 * countNoiseStdDev;
        return 1 / Math.Sqrt((1 / (updateNoiseMultiplier * updateNoiseMultiplier)) + (1 / (b * b)));
    }

    /// <summary>The update noise multiplier z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) that makes the pair cost an effective z.</summary>
    /// <exception cref="ArgumentOutOfRangeException">2σ_b ≤ z: the count alone would already cost more than z.</exception>
    public static double UpdateNoiseMultiplier(double effectiveNoiseMultiplier, double countNoiseStdDev)
    {
        RdpAccountant.CheckNoiseMultiplier(effectiveNoiseMultiplier);
        RdpAccountant.CheckNoiseMultiplier(countNoiseStdDev);
        double b = 2 * countNoiseStdDev;
        double rest = (1 / (effectiveNoiseMultiplier * effectiveNoiseMultiplier)) - (1 / (b * b));
        if (!(rest > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(countNoiseStdDev), countNoiseStdDev,
                $"The count noise σ_b = {countNoiseStdDev:G6} is too small for the noise multiplier z = {effectiveNoiseMultiplier:G6}: adaptive clipping needs 2σ_b > z.");
        }

        return 1 / Math.Sqrt(rest);
    }

    /// <summary>
    /// Updates C from the clients' reports: <paramref name="countAtMostClipNorm"/> of <paramref name="reports"/> clients had
    /// an update norm at most the current C. Draws the count noise from <paramref name="noise"/>.
    /// </summary>
    /// <returns>The noisy fraction b̄ used for the step.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative, exceeds the reports, or m &lt; 1.</exception>
    public double Update(int countAtMostClipNorm, int reports, int expectedClients, IGaussianNoise noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentOutOfRangeException.ThrowIfNegative(reports);
        ArgumentOutOfRangeException.ThrowIfNegative(countAtMostClipNorm);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(countAtMostClipNorm, reports);
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedClients, 1);
        double centred = countAtMostClipNorm - (reports / 2.0) + noise.Sample(_options.CountNoiseStdDev);
        double fraction = (centred + (expectedClients / 2.0)) / expectedClients;
        ClipNorm *= Math.Exp(-_options.LearningRate * (fraction - _options.TargetQuantile));
        return fraction;
    }

    /// <summary>Updates C from the pre-clip norms the server observed (server-side clipping).</summary>
    public double Update(IReadOnlyList<double> preClipNorms, int expectedClients, IGaussianNoise noise)
    {
        ArgumentNullException.ThrowIfNull(preClipNorms);
        int count = preClipNorms.Count(n => n <= ClipNorm);
        return Update(count, preClipNorms.Count, expectedClients, noise);
    }
}
