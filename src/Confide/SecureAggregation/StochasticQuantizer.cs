using System.Buffers.Binary;
using System.Security.Cryptography;
using Confide.Randomness;

namespace Confide.SecureAggregation;

/// <summary>
/// Clips, weights, scales and stochastically rounds a model update into Z_{2^k} for secure aggregation, and
/// decodes the aggregated sum back to a weighted mean. The scheme (clip to [−c, c], scale, unbiased randomized
/// rounding, sum in Z_{2^k} with two's-complement decoding) follows Kairouz, Liu and Steinke, "The Distributed
/// Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021, section 4; the fixed-point
/// encoding under masks is that of Bonawitz et al., CCS 2017.
/// </summary>
/// <remarks>
/// <para>Encoding of a client with update x (length D) and weight w: coordinate i is q_i = R(w · clip(x_i) · s) mod 2^k,
/// where R rounds v up with probability v − ⌊v⌋ and down otherwise (so E[R(v)] = v, with 53-bit uniform draws from the
/// injected source); coordinate D is w itself. Summing the encodings of n clients in Z_{2^k} and calling
/// <see cref="DequantizeMean(ReadOnlySpan{ulong}, Span{float})"/> gives Σ w·clip(x) / Σ w, with an absolute error per coordinate below
/// n / (s · Σ w) (<see cref="MeanErrorBound"/>) plus float rounding of the result.</para>
/// <para>The sign of each decoded coordinate comes from the two's-complement reading of Z_{2^k}: values at or above
/// 2^(k−1) are negative. <see cref="QuantizerOptions"/> refuses parameters whose sums could leave that range.</para>
/// </remarks>
public sealed class StochasticQuantizer
{
    private const int RandomChunk = 2048;

    private readonly ulong _modMask;

    /// <summary>A quantizer for the given (already validated) options.</summary>
    public StochasticQuantizer(QuantizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _modMask = (1UL << options.ModulusBits) - 1;
    }

    /// <summary>The parameters.</summary>
    public QuantizerOptions Options { get; }

    /// <summary>The encoded length for an update of <paramref name="dimension"/> values: one more, for the weight.</summary>
    public static int EncodedLength(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dimension);
        return checked(dimension + 1);
    }

    /// <summary>Encodes <paramref name="update"/> with <paramref name="weight"/> into a new array of length D + 1.</summary>
    public ulong[] Quantize(ReadOnlySpan<float> update, long weight, IRandomSource random)
    {
        var destination = new ulong[EncodedLength(update.Length)];
        Quantize(update, weight, random, destination);
        return destination;
    }

    /// <summary>Encodes <paramref name="update"/> with <paramref name="weight"/> into <paramref name="destination"/> (length D + 1).</summary>
    /// <exception cref="ArgumentException">A value is not finite, the weight is out of [0, MaxWeight], or the destination has the wrong length.</exception>
    public void Quantize(ReadOnlySpan<float> update, long weight, IRandomSource random, Span<ulong> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckWeight(weight);
        if (destination.Length != EncodedLength(update.Length))
        {
            throw new ArgumentException($"The destination must hold the {update.Length} values plus the weight ({update.Length + 1} entries), not {destination.Length}.", nameof(destination));
        }

        Encode(update, weight, random, destination, 0);
        destination[update.Length] = (ulong)weight;
    }

    /// <summary>Encodes into 32-bit words; needs k ≤ 32.</summary>
    public void Quantize(ReadOnlySpan<float> update, long weight, IRandomSource random, Span<uint> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (Options.ModulusBits > 32)
        {
            throw new InvalidOperationException($"32-bit words hold Z_2^k only for k <= 32; these options use k = {Options.ModulusBits}.");
        }

        CheckWeight(weight);
        if (destination.Length != EncodedLength(update.Length))
        {
            throw new ArgumentException($"The destination must hold the {update.Length} values plus the weight ({update.Length + 1} entries), not {destination.Length}.", nameof(destination));
        }

        var words = new ulong[Math.Min(update.Length, RandomChunk)];
        for (int start = 0; start < update.Length; start += words.Length)
        {
            int count = Math.Min(words.Length, update.Length - start);
            Encode(update.Slice(start, count), weight, random, words.AsSpan(0, count), start);
            for (int i = 0; i < count; i++)
            {
                destination[start + i] = (uint)words[i];
            }
        }

        destination[update.Length] = (uint)weight;
    }

    /// <summary>
    /// Decodes an aggregated sum (length D + 1, entries in [0, 2^k)) into the weighted mean Σ w·clip(x) / Σ w and returns Σ w.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong lengths, an entry not below 2^k, or a total weight that is not positive.</exception>
    public long DequantizeMean(ReadOnlySpan<ulong> sum, Span<float> mean)
    {
        long totalWeight = ReadTotalWeight(sum, mean.Length);
        double factor = 1.0 / (Options.Scale * totalWeight);
        for (int i = 0; i < mean.Length; i++)
        {
            mean[i] = (float)(Signed(sum[i]) * factor);
        }

        return totalWeight;
    }

    /// <summary>Decodes an aggregated sum into the weighted sum Σ w·clip(x) (in doubles) and returns Σ w.</summary>
    public long DequantizeSum(ReadOnlySpan<ulong> sum, Span<double> weightedSum)
    {
        long totalWeight = ReadTotalWeight(sum, weightedSum.Length, allowZero: true);
        double factor = 1.0 / Options.Scale;
        for (int i = 0; i < weightedSum.Length; i++)
        {
            weightedSum[i] = Signed(sum[i]) * factor;
        }

        return totalWeight;
    }

    /// <summary>32-bit variant of <see cref="DequantizeMean(ReadOnlySpan{ulong}, Span{float})"/>.</summary>
    public long DequantizeMean(ReadOnlySpan<uint> sum, Span<float> mean)
    {
        var wide = new ulong[sum.Length];
        for (int i = 0; i < sum.Length; i++)
        {
            wide[i] = sum[i];
        }

        return DequantizeMean(wide, mean);
    }

    /// <summary>
    /// The bound on |decoded mean − Σ w·clip(x)/Σ w| per coordinate for <paramref name="clients"/> clients with total
    /// weight <paramref name="totalWeight"/> (before float rounding of the output): each client's rounding moves its
    /// weighted value by less than one quantum, 1/s.
    /// </summary>
    public double MeanErrorBound(int clients, long totalWeight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalWeight, 1);
        return clients / (Options.Scale * totalWeight);
    }

    /// <summary>The signed integer that <paramref name="value"/> in Z_{2^k} stands for (two's complement).</summary>
    public long Signed(ulong value)
    {
        if (value > _modMask)
        {
            throw new ArgumentException($"{value} is not an element of Z_2^{Options.ModulusBits}.", nameof(value));
        }

        return value >> (Options.ModulusBits - 1) != 0 ? (long)value - (1L << Options.ModulusBits) : (long)value;
    }

    /// <inheritdoc/>
    public override string ToString() => $"StochasticQuantizer(c = {Options.ClipRange}, s = {Options.Scale}, k = {Options.ModulusBits})";

    private void CheckWeight(long weight)
    {
        if (weight < 0 || weight > Options.MaxWeight)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, $"A client's weight must be between 0 and the agreed maximum {Options.MaxWeight}.");
        }
    }

    private long ReadTotalWeight(ReadOnlySpan<ulong> sum, int dimension, bool allowZero = false)
    {
        if (sum.Length != EncodedLength(dimension))
        {
            throw new ArgumentException($"A sum of {dimension}-value updates has {dimension + 1} entries (the last is the weight), not {sum.Length}.", nameof(sum));
        }

        long totalWeight = Signed(sum[dimension]);
        if (totalWeight < 0 || (totalWeight == 0 && !allowZero))
        {
            throw new ArgumentException($"The summed weight decodes to {totalWeight}; a weighted mean needs a positive total weight.", nameof(sum));
        }

        return totalWeight;
    }

    private void Encode(ReadOnlySpan<float> update, long weight, IRandomSource random, Span<ulong> destination, int indexBase)
    {
        double c = Options.ClipRange;
        double factor = weight * Options.Scale;
        Span<byte> bits = stackalloc byte[8 * Math.Min(RandomChunk, Math.Max(1, update.Length))];
        try
        {
            for (int start = 0; start < update.Length; start += RandomChunk)
            {
                int count = Math.Min(RandomChunk, update.Length - start);
                random.NextBytes(bits[..(8 * count)]);
                for (int j = 0; j < count; j++)
                {
                    int i = start + j;
                    float x = update[i];
                    if (!float.IsFinite(x))
                    {
                        throw new ArgumentException($"Update value {indexBase + i} is {x}; only finite values can be quantized.", nameof(update));
                    }

                    double v = Math.Clamp((double)x, -c, c) * factor;
                    double floor = Math.Floor(v);
                    // u is uniform on the 2^53 multiples of 2^-53 in [0, 1): P(u < frac) = frac up to 2^-53.
                    double u = (BinaryPrimitives.ReadUInt64LittleEndian(bits[(8 * j)..]) >> 11) * (1.0 / (1UL << 53));
                    long q = (long)floor + (u < v - floor ? 1 : 0);
                    destination[i] = unchecked((ulong)q) & _modMask;
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bits);
        }
    }
}
