using Confide.Randomness;

namespace Confide.SecureAggregation;

/// <summary>
/// Carries the clip indicator of adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private
/// Learning with Adaptive Clipping", NeurIPS 2021) inside a secure sum: each client's bᵢ = 1[‖Δᵢ‖ ≤ C] becomes one
/// extra, unscaled coordinate after the <see cref="StochasticQuantizer"/> encoding (D values, then the weight, then
/// bᵢ), so the server unmasks Σ bᵢ and never an individual bit.
/// </summary>
/// <remarks>
/// The count needs no room beyond what the quantizer already checks: it lies in [0, n] with n ≤ MaxClients, and
/// <see cref="QuantizerOptions"/> requires MaxClients · MaxWeight ≤ 2^(k−1) − 1 with MaxWeight ≥ 1. <see cref="CheckHeadroom"/>
/// states that rule for the count on its own. The indicator coordinate is split off before the sum is decoded, so it
/// never reaches the model.
/// </remarks>
public static class ClipIndicatorEncoding
{
    /// <summary>The encoded length for an update of <paramref name="dimension"/> values: the values, the weight, the indicator.</summary>
    public static int EncodedLength(int dimension) => checked(StochasticQuantizer.EncodedLength(dimension) + 1);

    /// <summary>Throws unless a count of up to <see cref="QuantizerOptions.MaxClients"/> fits the signed range of Z_{2^k}.</summary>
    /// <exception cref="ArgumentException">MaxClients &gt; 2^(k−1) − 1.</exception>
    public static void CheckHeadroom(QuantizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxClients > options.MaxSignedSum)
        {
            throw new ArgumentException($"A count of up to {options.MaxClients} clients does not fit the signed range of Z_2^{options.ModulusBits}.", nameof(options));
        }
    }

    /// <summary>Encodes <paramref name="update"/> and its weight as the quantizer does, then appends the indicator (1 or 0).</summary>
    /// <exception cref="ArgumentException">As <see cref="StochasticQuantizer.Quantize(ReadOnlySpan{float}, long, IRandomSource)"/>.</exception>
    public static ulong[] Quantize(StochasticQuantizer quantizer, ReadOnlySpan<float> update, long weight, bool withinClip, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        CheckHeadroom(quantizer.Options);
        var destination = new ulong[EncodedLength(update.Length)];
        quantizer.Quantize(update, weight, random, destination.AsSpan(0, destination.Length - 1));
        destination[^1] = withinClip ? 1UL : 0UL;
        return destination;
    }

    /// <summary>
    /// Splits an aggregated sum of length D + 2 into the weighted sum Σ w·clip(x) (written to
    /// <paramref name="weightedSum"/>, length D), Σ w (returned) and Σ bᵢ (<paramref name="indicatorSum"/>, read as a
    /// signed value so that a client that sent something other than 0 or 1 shows up as a count outside [0, n]).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong lengths, or an entry not below 2^k.</exception>
    public static long DequantizeSum(StochasticQuantizer quantizer, ReadOnlySpan<ulong> sum, Span<double> weightedSum, out long indicatorSum)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        if (sum.Length != EncodedLength(weightedSum.Length))
        {
            throw new ArgumentException($"A sum of {weightedSum.Length}-value updates with a clip indicator has {EncodedLength(weightedSum.Length)} entries (values, weight, indicator), not {sum.Length}.", nameof(sum));
        }

        indicatorSum = quantizer.Signed(sum[^1]);
        return quantizer.DequantizeSum(sum[..^1], weightedSum);
    }
}
