using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Privacy.Internal;

/// <summary>
/// A client's side of distributed DP (Kairouz, Liu, Steinke 2021): stochastic rounding into Z_{2^k}, repeated until the
/// quantized norm is within the accounted bound (conditional rounding), then N_Z(0, σ²) on every update coordinate (not
/// on the weight). The result is what the client masks.
/// </summary>
internal static class DistributedDpEncoder
{
    /// <summary>Tries of conditional rounding before giving up (each fails with probability at most β).</summary>
    public const int MaxConditionalRoundingTries = 1000;

    /// <summary>
    /// Encodes <paramref name="update"/> with weight 1: rounding from <paramref name="random"/>.Fork(0) (one fork per try),
    /// noise from <paramref name="random"/>.Fork(1). <paramref name="maxSquaredNorm"/> = ∞ skips the norm check (a client
    /// that does not follow the protocol).
    /// </summary>
    /// <exception cref="InvalidOperationException">The rounded vector stayed above the bound (the update was not clipped).</exception>
    public static ulong[] Encode(StochasticQuantizer quantizer, float[] update, DiscreteGaussian sampler, double maxSquaredNorm, IRandomSource random)
    {
        ulong[] encoded = QuantizeConditionally(quantizer, update, random.Fork(0), maxSquaredNorm);
        ulong mask = (1UL << quantizer.Options.ModulusBits) - 1;
        IRandomSource noise = random.Fork(1);
        unchecked
        {
            for (int i = 0; i < update.Length; i++)
            {
                encoded[i] = (encoded[i] + (ulong)sampler.Sample(noise)) & mask;
            }
        }

        return encoded;
    }

    /// <summary>Stochastic rounding, repeated until the squared L2 norm of the rounded update is at most <paramref name="maxSquaredNorm"/>.</summary>
    public static ulong[] QuantizeConditionally(StochasticQuantizer quantizer, float[] update, IRandomSource random, double maxSquaredNorm)
    {
        for (int attempt = 0; attempt < MaxConditionalRoundingTries; attempt++)
        {
            ulong[] q = quantizer.Quantize(update, 1, random.Fork((ulong)attempt));
            if (double.IsPositiveInfinity(maxSquaredNorm) || SquaredNorm(quantizer, q, update.Length) <= maxSquaredNorm)
            {
                return q;
            }
        }

        throw new InvalidOperationException(
            $"The rounded update stayed above the norm bound √{maxSquaredNorm:G6} quanta after {MaxConditionalRoundingTries} tries; it was not clipped to the clip norm.");
    }

    /// <summary>Σ signed(q_i)² over the first <paramref name="length"/> coordinates.</summary>
    public static double SquaredNorm(StochasticQuantizer quantizer, ReadOnlySpan<ulong> encoded, int length)
    {
        double squared = 0;
        for (int i = 0; i < length; i++)
        {
            double v = quantizer.Signed(encoded[i]);
            squared += v * v;
        }

        return squared;
    }
}
