using System.Globalization;
using System.Numerics;
using Confide.Privacy.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Privacy;

/// <summary>
/// The configuration of distributed DP under secure aggregation (Kairouz, Liu, Steinke, "The Distributed Discrete
/// Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021): the quantizer scale s that fits N
/// clients' clipped, noisy updates in Z_{2^k}, each client's discrete Gaussian N_Z(0, σ²) in quanta, the conditional-rounding
/// β, the fewest survivors n_min the noise is calibrated for, and the sensitivity the ledger charges. One plan serves
/// the simulation (<c>confide simulate --dp-mode distributed</c>), the server that decodes and accounts the sum, and the
/// networked client that rebuilds the plan from the round's setup, so all three agree by construction. Validated where built.
/// </summary>
/// <remarks>
/// <para>Build it with <see cref="ForTargetEpsilon"/> (σ calibrated for (ε, δ) over the run) or <see cref="ForNoiseMultiplier"/>
/// (σ = z·Δ₂/√n_min). Both pick the largest power-of-two scale for which N·(⌈c·s⌉ + ⌈12σ⌉) ≤ 2^(k−1) − 1, so each
/// client may add noise out to 12σ (a larger sample has probability below 10⁻³¹) without the sum wrapping. σ² is rounded
/// up to an integer: a little more noise than calibrated, and the sampler's exact fast path.</para>
/// <para>The constructor takes the resulting numbers directly and checks them; a client uses it on what the server
/// sent, so a setup with no noise, an overflowing modulus or a bound it cannot meet is refused (the headroom and the
/// norm bound are recomputed here, never taken from the sender).</para>
/// </remarks>
public sealed class DistributedDpPlan
{
    /// <summary>The mechanism name of the ledger entries.</summary>
    public const string MechanismName = "distributed-dp+secagg";

    /// <summary>Each client's noise may reach this many σ before the sum could wrap (beyond it: probability below 10⁻³¹ per sample).</summary>
    public const double NoiseHeadroomSigmas = 12;

    /// <summary>The largest per-client σ in quanta (σ² then still fits 64 bits).</summary>
    public const double MaxClientSigma = 1e9;

    /// <summary>β = e^(−1/2), the conditional-rounding failure probability of the paper's experiments.</summary>
    public static readonly double DefaultRoundingBeta = Math.Exp(-0.5);

    /// <summary>Checks and builds a plan from its numbers (what the server sends a client, or what a factory chose).</summary>
    /// <param name="clipNorm">c, the L2 clip norm in update units.</param>
    /// <param name="scale">s, quanta per unit; c·s must be at least one quantum.</param>
    /// <param name="modulusBits">k of Z_{2^k}.</param>
    /// <param name="maxClients">N, the most clients whose noisy updates are summed.</param>
    /// <param name="dimension">d, the number of noised coordinates (the model's parameters; the weight coordinate is not noised).</param>
    /// <param name="noiseVariance">σ² in quanta², at least 1.</param>
    /// <param name="minimumSurvivors">n_min, 2 ≤ n_min ≤ N.</param>
    /// <param name="beta">Conditional-rounding β in [0, 1) (0: round once, Δ₂ = c·s + √d).</param>
    /// <exception cref="ArgumentException">A value is out of range, or N noisy updates could overflow Z_{2^k}.</exception>
    public DistributedDpPlan(double clipNorm, double scale, int modulusBits, int maxClients, int dimension, ulong noiseVariance, int minimumSurvivors, double beta)
    {
        L2Clipping.CheckClipNorm(clipNorm);
        if (!(scale > 0) || !double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The quantizer scale must be a finite positive number of quanta per unit.");
        }

        if (clipNorm * scale < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, Invariant($"c·s = {clipNorm * scale:G6} is below one quantum: the clipped update would round to noise alone."));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if (maxClients < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxClients), maxClients, "Secure aggregation sums at least 2 clients.");
        }

        if (minimumSurvivors < 2 || minimumSurvivors > maxClients)
        {
            throw new ArgumentOutOfRangeException(nameof(minimumSurvivors), minimumSurvivors, Invariant($"The minimum survivors must lie in 2 … {maxClients} (the clients summed)."));
        }

        double sigma = Math.Sqrt((double)noiseVariance);
        if (noiseVariance < 1 || sigma > MaxClientSigma)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseVariance), noiseVariance, Invariant($"Each client's noise variance must lie in 1 … {MaxClientSigma * MaxClientSigma:G3} quanta² (σ ≥ 1 quantum): without noise the sum is not private."));
        }

        ClipNorm = clipNorm;
        Scale = scale;
        MaxClients = maxClients;
        Dimension = dimension;
        NoiseVariance = noiseVariance;
        ClientSigma = sigma;
        MinimumSurvivors = minimumSurvivors;
        Beta = beta;
        NoiseHeadroom = Headroom(sigma);
        L2Sensitivity = DistributedDiscreteGaussian.RoundedL2Bound(clipNorm * scale, dimension, beta);
        L1Sensitivity = DistributedDiscreteGaussian.RoundedL1Bound(L2Sensitivity, dimension);
        Quantizer = new StochasticQuantizer(new QuantizerOptions(clipNorm, scale, 1, maxClients, modulusBits, NoiseHeadroom));
        Sampler = DiscreteGaussian.FromVariance(new BigInteger(noiseVariance), BigInteger.One);
    }

    /// <summary>c, the L2 clip norm in update units.</summary>
    public double ClipNorm { get; }

    /// <summary>s, quanta per unit.</summary>
    public double Scale { get; }

    /// <summary>k of Z_{2^k}.</summary>
    public int ModulusBits => Quantizer.Options.ModulusBits;

    /// <summary>N, the most clients summed.</summary>
    public int MaxClients { get; }

    /// <summary>d, the number of noised coordinates.</summary>
    public int Dimension { get; }

    /// <summary>σ² of each client's N_Z(0, σ²), in quanta².</summary>
    public ulong NoiseVariance { get; }

    /// <summary>σ = √(σ²), in quanta.</summary>
    public double ClientSigma { get; }

    /// <summary>n_min: a sum of fewer survivors carries less noise than calibrated and is not released.</summary>
    public int MinimumSurvivors { get; }

    /// <summary>The conditional-rounding β.</summary>
    public double Beta { get; }

    /// <summary>⌈12σ⌉: the per-client, per-coordinate room the quantizer reserves for noise.</summary>
    public long NoiseHeadroom { get; }

    /// <summary>Δ₂ after rounding, in quanta.</summary>
    public double L2Sensitivity { get; }

    /// <summary>Δ₁ after rounding, in quanta.</summary>
    public double L1Sensitivity { get; }

    /// <summary>The quantizer (clip c, scale s, weight 1, N clients, the noise headroom): encodes on clients, decodes the sum.</summary>
    public StochasticQuantizer Quantizer { get; }

    /// <summary>Each client's exact N_Z(0, σ²) sampler.</summary>
    public DiscreteGaussian Sampler { get; }

    /// <summary>z = √n_min·σ/Δ₂: the continuous Gaussian's noise multiplier this plan matches when n_min clients' noise is present.</summary>
    public double EffectiveNoiseMultiplier => Math.Sqrt(MinimumSurvivors) * ClientSigma / L2Sensitivity;

    /// <summary>
    /// The plan whose σ is the smallest that keeps <paramref name="rounds"/> rounds at sampling rate q, each with at least
    /// <paramref name="minimumSurvivors"/> clients' noise, within (ε, δ) (<see cref="DistributedNoiseCalibration"/>), at the
    /// largest scale that fits.
    /// </summary>
    /// <exception cref="ArgumentException">No scale fits, or no σ reaches the target.</exception>
    public static DistributedDpPlan ForTargetEpsilon(
        double clipNorm, int maxClients, int minimumSurvivors, int dimension, int modulusBits, double beta,
        double epsilon, double delta, double sampleRate, long rounds) =>
        Choose(clipNorm, maxClients, minimumSurvivors, dimension, modulusBits, beta, (scale, _) =>
            DistributedNoiseCalibration.CalibrateClientSigma(epsilon, delta, sampleRate, rounds, minimumSurvivors, clipNorm, scale, dimension, beta));

    /// <summary>The plan with σ = z·Δ₂/√n_min (the noise of central DP-FedAvg at multiplier z once n_min clients' noise adds up), at the largest scale that fits.</summary>
    /// <exception cref="ArgumentException">No scale fits, or z is not usable.</exception>
    public static DistributedDpPlan ForNoiseMultiplier(double clipNorm, int maxClients, int minimumSurvivors, int dimension, int modulusBits, double beta, double noiseMultiplier) =>
        Choose(clipNorm, maxClients, minimumSurvivors, dimension, modulusBits, beta, (_, l2) => noiseMultiplier * l2 / Math.Sqrt(minimumSurvivors));

    /// <summary>
    /// The ledger entry of one released round whose sum holds <paramref name="survivors"/> clients' noise, credited with
    /// min(survivors, n_min) shares (survivors beyond n_min are slack against clients that skip their noise).
    /// </summary>
    public DistributedDiscreteGaussianSteps Release(int survivors, double sampleRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(survivors);
        return new DistributedDiscreteGaussianSteps(sampleRate, L2Sensitivity, L1Sensitivity, ClientSigma, Math.Min(survivors, MinimumSurvivors), Dimension);
    }

    /// <summary>
    /// A client's input: stochastic rounding of the clipped <paramref name="update"/> (weight 1), repeated until its norm
    /// is within Δ₂ (conditional rounding), then N_Z(0, σ²) on every update coordinate; rounding from
    /// <paramref name="random"/>.Fork(0), noise from .Fork(1). <paramref name="roundConditionally"/> = false rounds once
    /// without the norm check (a simulated client that does not follow the protocol).
    /// </summary>
    /// <exception cref="ArgumentException">The update does not have <see cref="Dimension"/> values.</exception>
    /// <exception cref="InvalidOperationException">The rounded update stayed above Δ₂ (it was not clipped to c).</exception>
    public ulong[] Encode(float[] update, IRandomSource random, bool roundConditionally = true)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(random);
        if (update.Length != Dimension)
        {
            throw new ArgumentException(Invariant($"The update has {update.Length} values; the plan noises {Dimension}."), nameof(update));
        }

        return DistributedDpEncoder.Encode(Quantizer, update, Sampler, roundConditionally ? L2Sensitivity * L2Sensitivity : double.PositiveInfinity, random);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        Invariant($"DistributedDpPlan(c = {ClipNorm}, s = {Scale}, k = {ModulusBits}, N = {MaxClients}, σ = {ClientSigma:G6} quanta, n_min = {MinimumSurvivors}, β = {Beta:G4})");

    private static DistributedDpPlan Choose(double clipNorm, int maxClients, int minimumSurvivors, int dimension, int modulusBits, double beta, Func<double, double, double> sigmaFor)
    {
        L2Clipping.CheckClipNorm(clipNorm);
        if (maxClients < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxClients), maxClients, "Secure aggregation sums at least 2 clients.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(modulusBits, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(modulusBits, QuantizerOptions.MaxModulusBits);
        double limit = Math.Pow(2, modulusBits - 1) - 1;

        // Start where N clipped updates alone just fit (and c·s stays within the 2^52 a double holds exactly), then halve
        // until the noise headroom fits too: σ in quanta grows with s, so the search ends.
        double scale = Math.Pow(2, Math.Floor(Math.Log2(Math.Min(((limit / maxClients) - 1) / clipNorm, (1L << 52) / clipNorm))));
        while (true)
        {
            if (scale * clipNorm < 1)
            {
                throw new ArgumentException(Invariant(
                    $"Distributed DP cannot fit {maxClients} clients' noisy updates in Z_2^{modulusBits} with at least one quantum per clip norm; use fewer clients, less noise (a larger ε), a larger modulus or central DP."));
            }

            double l2 = DistributedDiscreteGaussian.RoundedL2Bound(clipNorm * scale, dimension, beta);
            double sigma = sigmaFor(scale, l2);
            if (!(sigma > 0) || !double.IsFinite(sigma) || sigma > MaxClientSigma)
            {
                throw new ArgumentException(Invariant($"The distributed noise σ = {sigma:G4} quanta is not usable; give a positive finite noise multiplier or target ε."));
            }

            // σ² rounded up to an integer: a little more noise than calibrated, and the sampler's exact fast path.
            ulong variance = (ulong)Math.Ceiling(sigma * sigma);
            if (maxClients * (Math.Ceiling(clipNorm * scale) + Headroom(Math.Sqrt(variance))) <= limit)
            {
                return new DistributedDpPlan(clipNorm, scale, modulusBits, maxClients, dimension, variance, minimumSurvivors, beta);
            }

            scale /= 2;
        }
    }

    private static long Headroom(double sigma) => (long)Math.Ceiling(NoiseHeadroomSigmas * sigma);

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
