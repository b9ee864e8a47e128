using System.Globalization;

namespace Confide.SecureAggregation;

/// <summary>
/// Parameters of <see cref="StochasticQuantizer"/>, validated when built: the clipping range c, the fixed-point scale s
/// (quanta per unit), the modulus exponent k of Z_{2^k}, the largest client weight (sample count), the largest number
/// of clients summed, and an optional per-client integer headroom for noise added after quantizing (distributed DP).
/// </summary>
/// <remarks>
/// The headroom rule: one client contributes at most B = ⌈w_max · c · s⌉ + noise in absolute value per coordinate, so
/// a sum of n clients lies in [−n·B, n·B]. It must fit in the signed range of Z_{2^k}, n·B ≤ 2^(k−1) − 1, or the
/// decoded sum would wrap. The weight coordinate needs n · w_max ≤ 2^(k−1) − 1. And w_max · c · s ≤ 2^52 keeps the
/// scaled values exact integers-plus-fraction in a double. Parameters that break any rule are refused with the numbers.
/// </remarks>
public sealed record QuantizerOptions
{
    /// <summary>The largest supported k.</summary>
    public const int MaxModulusBits = 62;

    /// <summary>Builds and checks the options.</summary>
    /// <param name="clipRange">c &gt; 0: each value is clipped to [−c, c].</param>
    /// <param name="scale">s &gt; 0: quanta per unit of weighted value; the rounding error of one client is below 1/s.</param>
    /// <param name="maxWeight">The largest weight (sample count) a client may send, at least 1.</param>
    /// <param name="maxClients">The largest number of clients whose inputs are summed, at least 1.</param>
    /// <param name="modulusBits">k, 2..62 (32 is the usual choice).</param>
    /// <param name="noiseHeadroomPerClient">Extra per-coordinate magnitude a client may add after quantizing (e.g. a bound on its DP noise), at least 0.</param>
    /// <exception cref="ArgumentException">A parameter is out of range or the sum could overflow Z_{2^k}.</exception>
    public QuantizerOptions(double clipRange, double scale, long maxWeight, int maxClients, int modulusBits = 32, long noiseHeadroomPerClient = 0)
    {
        if (!double.IsFinite(clipRange) || clipRange <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(clipRange), clipRange, "The clipping range must be a finite positive number.");
        }

        if (!double.IsFinite(scale) || scale <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be a finite positive number.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxWeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(modulusBits, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(modulusBits, MaxModulusBits);
        ArgumentOutOfRangeException.ThrowIfNegative(noiseHeadroomPerClient);

        ClipRange = clipRange;
        Scale = scale;
        MaxWeight = maxWeight;
        MaxClients = maxClients;
        ModulusBits = modulusBits;
        NoiseHeadroomPerClient = noiseHeadroomPerClient;

        double limit = MaxSignedSum;
        double perClient = Math.Ceiling(maxWeight * clipRange * scale);
        if (maxWeight * clipRange * scale > 1L << 52)
        {
            throw new ArgumentException(Invariant(
                $"max weight {maxWeight} x clip {clipRange} x scale {scale} = {maxWeight * clipRange * scale:G6} quanta exceeds 2^52, beyond which doubles lose the fraction that stochastic rounding needs; lower the scale."));
        }

        double sumBound = maxClients * (perClient + noiseHeadroomPerClient);
        if (sumBound > limit)
        {
            double largestScale = ((limit / maxClients) - noiseHeadroomPerClient - 1) / (maxWeight * clipRange);
            string advice = largestScale > 0
                ? Invariant($"Use a scale of at most {largestScale:G4}, fewer clients, a smaller max weight, or a larger modulus.")
                : "Use fewer clients, a smaller max weight or noise headroom, or a larger modulus.";
            throw new ArgumentException(Invariant(
                $"The sum could overflow Z_2^{modulusBits}: {maxClients} clients x ({perClient:F0} quanta (max weight {maxWeight} x clip {clipRange} x scale {scale}) + noise headroom {noiseHeadroomPerClient}) = {sumBound:G6} exceeds 2^{modulusBits - 1} - 1 = {limit:G6}. ") + advice);
        }

        if ((double)maxClients * maxWeight > limit)
        {
            throw new ArgumentException(Invariant(
                $"The summed weight could overflow Z_2^{modulusBits}: {maxClients} clients x max weight {maxWeight} = {(double)maxClients * maxWeight:G6} exceeds 2^{modulusBits - 1} - 1 = {limit:G6}."));
        }
    }

    /// <summary>c: values are clipped to [−c, c].</summary>
    public double ClipRange { get; }

    /// <summary>s: quanta per unit of weighted value.</summary>
    public double Scale { get; }

    /// <summary>The largest weight a client may send.</summary>
    public long MaxWeight { get; }

    /// <summary>The largest number of clients summed.</summary>
    public int MaxClients { get; }

    /// <summary>k: arithmetic is in Z_{2^k}.</summary>
    public int ModulusBits { get; }

    /// <summary>Extra per-coordinate magnitude per client reserved for noise added after quantizing.</summary>
    public long NoiseHeadroomPerClient { get; }

    /// <summary>2^(k−1) − 1, the largest magnitude a decoded sum may have.</summary>
    public double MaxSignedSum => Math.Pow(2, ModulusBits - 1) - 1;

    /// <summary>
    /// The options with the largest power-of-two scale that passes the headroom rule, so the rounding error is as
    /// small as the modulus allows.
    /// </summary>
    /// <exception cref="ArgumentException">No scale of at least 2^−20 fits.</exception>
    public static QuantizerOptions WithLargestScale(double clipRange, long maxWeight, int maxClients, int modulusBits = 32, long noiseHeadroomPerClient = 0)
    {
        if (!double.IsFinite(clipRange) || clipRange <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(clipRange), clipRange, "The clipping range must be a finite positive number.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxWeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(modulusBits, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(modulusBits, MaxModulusBits);
        double limit = Math.Pow(2, modulusBits - 1) - 1;
        double raw = Math.Min(((limit / maxClients) - noiseHeadroomPerClient - 1) / (maxWeight * clipRange), (1L << 52) / (maxWeight * clipRange));
        if (!(raw >= Math.Pow(2, -20)))
        {
            throw new ArgumentException(Invariant(
                $"No useful scale fits: {maxClients} clients with max weight {maxWeight}, clip {clipRange} and noise headroom {noiseHeadroomPerClient} leave no room in Z_2^{modulusBits}."));
        }

        double scale = Math.Pow(2, Math.Floor(Math.Log2(raw)));
        return new QuantizerOptions(clipRange, scale, maxWeight, maxClients, modulusBits, noiseHeadroomPerClient);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
