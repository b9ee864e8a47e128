using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// Shamir t-out-of-n secret sharing (Shamir, "How to Share a Secret", CACM 1979) over the prime field
/// GF(2^61 − 1), as used for the self-mask seeds and mask keys of secure aggregation (Bonawitz et al., CCS 2017).
/// </summary>
/// <remarks>
/// <para>Chunking: a secret of L bytes is cut into ⌈L/7⌉ chunks of 7 bytes (the last may be shorter), each read as a
/// little-endian integer below 2^56 &lt; p. Each chunk gets its own random polynomial of degree t − 1 whose constant
/// term is the chunk; share x holds every polynomial's value at x. A 32-byte seed therefore has 5 values per share.</para>
/// <para>Coefficients are uniform in [0, p) from the injected <see cref="IRandomSource"/> (a CSPRNG in production), so
/// any t − 1 shares are uniformly distributed whatever the secret.</para>
/// <para>Reconstruction sorts the shares by x, interpolates at 0 from the t smallest x's, and checks that every extra
/// share lies on the same polynomials: for m &gt; t shares it tests one random codeword of the dual code
/// (a generalized Reed–Solomon code with multipliers v_j = 1/Π_{l≠j}(x_j − x_l) and the random polynomial
/// h(z) = Σ_{e&lt;m−t} (r z)^e), which a set of shares off the polynomial passes with probability at most (m − t)/p (below 2^−51 for up to
/// a thousand extra shares), for a fresh r from the injected source on every call. This costs O(m) per chunk instead of O(m·t).
/// With exactly t shares nothing can be checked beyond the decoded chunks being below 2^56. Inconsistent shares are
/// detected, not corrected: identifying which share is wrong (Reed–Solomon decoding) is not implemented.</para>
/// <para>Lagrange coefficients and dual-code multipliers depend only on the set of x's; they are computed once per
/// set and cached (the server reconstructs hundreds of secrets from the same survivors). An instance is not
/// thread-safe: give each thread its own (with <see cref="IRandomSource.Fork"/>).</para>
/// </remarks>
public sealed class ShamirSecretSharing
{
    /// <summary>The field prime, 2^61 − 1.</summary>
    public const ulong Prime = Mersenne61.P;

    /// <summary>Secret bytes per field element.</summary>
    public const int ChunkBytes = 7;

    private const int CacheLimit = 256;

    private readonly IRandomSource _random;
    private readonly Dictionary<PointSetKey, PointSet> _cache = [];

    /// <summary>A scheme in which any <paramref name="threshold"/> shares reconstruct and fewer reveal nothing.</summary>
    /// <param name="threshold">t, at least 1.</param>
    /// <param name="random">The source of polynomial coefficients and of the consistency-check challenge (a CSPRNG in production).</param>
    public ShamirSecretSharing(int threshold, IRandomSource random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentNullException.ThrowIfNull(random);
        Threshold = threshold;
        _random = random;
    }

    /// <summary>t: the number of shares needed to reconstruct.</summary>
    public int Threshold { get; }

    /// <summary>The number of field elements in each share of a <paramref name="secretLength"/>-byte secret.</summary>
    public static int ChunkCount(int secretLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(secretLength);
        return (secretLength + ChunkBytes - 1) / ChunkBytes;
    }

    /// <summary>Splits <paramref name="secret"/> into <paramref name="shareCount"/> shares at x = 1..n.</summary>
    public ShamirShare[] Split(ReadOnlySpan<byte> secret, int shareCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shareCount, Threshold, nameof(shareCount));
        var xs = new int[shareCount];
        for (int i = 0; i < xs.Length; i++)
        {
            xs[i] = i + 1;
        }

        return Split(secret, xs);
    }

    /// <summary>Splits <paramref name="secret"/> into one share per x in <paramref name="xs"/> (distinct, each at least 1).</summary>
    /// <exception cref="ArgumentException">The secret is empty, there are fewer x's than the threshold, or the x's are not distinct positive integers.</exception>
    public ShamirShare[] Split(ReadOnlySpan<byte> secret, ReadOnlySpan<int> xs)
    {
        if (secret.IsEmpty)
        {
            throw new ArgumentException("The secret must be at least one byte long.", nameof(secret));
        }

        if (xs.Length < Threshold)
        {
            throw new ArgumentException($"A threshold of {Threshold} needs at least {Threshold} shares; {xs.Length} x values were given.", nameof(xs));
        }

        var seen = new HashSet<int>();
        foreach (int x in xs)
        {
            if (x < 1)
            {
                throw new ArgumentException($"Share x values must be at least 1 (x = 0 would be the secret itself); got {x}.", nameof(xs));
            }

            if (!seen.Add(x))
            {
                throw new ArgumentException($"Share x values must be distinct; {x} appears twice.", nameof(xs));
            }
        }

        int chunks = ChunkCount(secret.Length);
        int t = Threshold;
        // coefficients[j * chunks + c] is the coefficient of z^j in chunk c's polynomial; the chunks of one power sit
        // together so that Horner's rule runs the chunks' independent chains side by side.
        var coefficients = new ulong[t * chunks];
        var group = new ulong[4 * chunks];
        try
        {
            for (int c = 0; c < chunks; c++)
            {
                coefficients[c] = ReadChunk(secret, c);
            }

            // All random coefficients in one draw (one call into a CSPRNG instead of one per coefficient): the top
            // 61 bits of each 64-bit word are uniform in [0, 2^61); the one value that is not below p is redrawn.
            Span<ulong> random = coefficients.AsSpan(chunks);
            _random.NextBytes(MemoryMarshal.AsBytes(random));
            for (int i = 0; i < random.Length; i++)
            {
                ulong v = BinaryPrimitives.ReadUInt64LittleEndian(MemoryMarshal.AsBytes(random.Slice(i, 1))) >> 3;
                random[i] = v < Mersenne61.P ? v : UniformFieldElement();
            }

            var shares = new ShamirShare[xs.Length];
            for (int s = 0; s < xs.Length; s += 4)
            {
                // Horner's rule from the highest coefficient down, for four x's at once: four independent chains in
                // registers keep the multiplier busy (a single chain waits on each product). A short last group repeats
                // its final x and drops the repeats.
                int count = Math.Min(4, xs.Length - s);
                ulong x0 = (ulong)xs[s];
                ulong x1 = (ulong)xs[s + Math.Min(1, count - 1)];
                ulong x2 = (ulong)xs[s + Math.Min(2, count - 1)];
                ulong x3 = (ulong)xs[s + Math.Min(3, count - 1)];
                for (int c = 0; c < chunks; c++)
                {
                    ulong top = coefficients[((t - 1) * chunks) + c];
                    ulong v0 = top, v1 = top, v2 = top, v3 = top;
                    for (int j = t - 2; j >= 0; j--)
                    {
                        ulong a = coefficients[(j * chunks) + c];
                        v0 = Mersenne61.Add(Mersenne61.Mul(v0, x0), a);
                        v1 = Mersenne61.Add(Mersenne61.Mul(v1, x1), a);
                        v2 = Mersenne61.Add(Mersenne61.Mul(v2, x2), a);
                        v3 = Mersenne61.Add(Mersenne61.Mul(v3, x3), a);
                    }

                    group[c] = v0;
                    group[chunks + c] = v1;
                    group[(2 * chunks) + c] = v2;
                    group[(3 * chunks) + c] = v3;
                }

                for (int k = 0; k < count; k++)
                {
                    shares[s + k] = new ShamirShare(xs[s + k], secret.Length, group.AsSpan(k * chunks, chunks));
                }
            }

            return shares;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(coefficients.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(group.AsSpan()));
        }
    }

    /// <summary>Reconstructs the secret from at least <see cref="Threshold"/> shares, checking any extra shares.</summary>
    /// <exception cref="SecretSharingException">Too few shares, duplicate x, mismatched lengths, or inconsistent shares.</exception>
    public byte[] Reconstruct(IReadOnlyList<ShamirShare> shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        int length = CheckShapes(shares);
        var secret = new byte[length];
        Reconstruct(shares, secret);
        return secret;
    }

    /// <summary>Reconstructs the secret into <paramref name="destination"/> (exactly the secret's length).</summary>
    /// <exception cref="SecretSharingException">Too few shares, duplicate x, mismatched lengths, or inconsistent shares.</exception>
    public void Reconstruct(IReadOnlyList<ShamirShare> shares, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(shares);
        int length = CheckShapes(shares);
        if (destination.Length != length)
        {
            throw new ArgumentException($"The shares hold a {length}-byte secret but the destination is {destination.Length} bytes.", nameof(destination));
        }

        int m = shares.Count;
        int t = Threshold;
        var order = new ShamirShare[m];
        for (int i = 0; i < m; i++)
        {
            order[i] = shares[i];
        }

        Array.Sort(order, static (a, b) => a.X.CompareTo(b.X));
        for (int i = 1; i < m; i++)
        {
            if (order[i].X == order[i - 1].X)
            {
                throw new SecretSharingException(SecretSharingError.DuplicateX, $"Two shares carry x = {order[i].X}; each party's share must appear once.");
            }
        }

        PointSet points = GetPointSet(order);
        int chunks = ChunkCount(length);
        if (m > t)
        {
            CheckConsistency(order, points, chunks);
        }

        Span<byte> chunkBytes = stackalloc byte[8];
        try
        {
            for (int c = 0; c < chunks; c++)
            {
                ulong value = 0;
                for (int i = 0; i < t; i++)
                {
                    value = Mersenne61.Add(value, Mersenne61.Mul(points.Lagrange[i], order[i].Values[c]));
                }

                int bytes = Math.Min(ChunkBytes, length - (c * ChunkBytes));
                if (value >> (8 * bytes) != 0)
                {
                    throw new SecretSharingException(
                        SecretSharingError.Inconsistent,
                        $"The shares decode chunk {c} to a value wider than {bytes} bytes; at least one of the {m} shares is corrupt.");
                }

                BinaryPrimitives.WriteUInt64LittleEndian(chunkBytes, value);
                chunkBytes[..bytes].CopyTo(destination[(c * ChunkBytes)..]);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(chunkBytes);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"ShamirSecretSharing(t = {Threshold}, GF(2^61 - 1))";

    private int CheckShapes(IReadOnlyList<ShamirShare> shares)
    {
        if (shares.Count < Threshold)
        {
            throw new SecretSharingException(SecretSharingError.TooFewShares, $"Reconstruction needs at least {Threshold} shares; got {shares.Count}.");
        }

        for (int i = 0; i < shares.Count; i++)
        {
            if (shares[i] is null)
            {
                throw new ArgumentException($"Share {i} is null.", nameof(shares));
            }
        }

        int length = shares[0].SecretLength;
        for (int i = 1; i < shares.Count; i++)
        {
            if (shares[i].SecretLength != length)
            {
                throw new SecretSharingException(
                    SecretSharingError.LengthMismatch,
                    $"Share x = {shares[i].X} is of a {shares[i].SecretLength}-byte secret but share x = {shares[0].X} is of a {length}-byte secret.");
            }
        }

        return length;
    }

    private void CheckConsistency(ShamirShare[] order, PointSet points, int chunks)
    {
        int m = order.Length;
        int degreeBound = m - Threshold;
        // Random dual codeword c_j = v_j · h(x_j), h(z) = Σ_{e<m−t} (r z)^e = ((r z)^{m−t} − 1) / (r z − 1).
        ulong r = UniformNonZeroFieldElement();
        var rz = new ulong[m];
        var denominators = new ulong[m];
        for (int j = 0; j < m; j++)
        {
            rz[j] = Mersenne61.Mul(r, (ulong)order[j].X);
            denominators[j] = rz[j] == 1 ? 1 : Mersenne61.Sub(rz[j], 1);
        }

        Mersenne61.BatchInverse(denominators);
        var codeword = new ulong[m];
        for (int j = 0; j < m; j++)
        {
            ulong h = rz[j] == 1
                ? (ulong)degreeBound
                : Mersenne61.Mul(Mersenne61.Sub(Pow(rz[j], (ulong)degreeBound), 1), denominators[j]);
            codeword[j] = Mersenne61.Mul(points.DualMultipliers![j], h);
        }

        for (int c = 0; c < chunks; c++)
        {
            ulong sum = 0;
            for (int j = 0; j < m; j++)
            {
                sum = Mersenne61.Add(sum, Mersenne61.Mul(codeword[j], order[j].Values[c]));
            }

            if (sum != 0)
            {
                throw new SecretSharingException(
                    SecretSharingError.Inconsistent,
                    $"The {m} shares do not lie on one polynomial of degree below {Threshold} (chunk {c}); at least one share is corrupt.");
            }
        }
    }

    private PointSet GetPointSet(ShamirShare[] order)
    {
        var xs = new int[order.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            xs[i] = order[i].X;
        }

        var key = new PointSetKey(xs);
        if (_cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        if (_cache.Count >= CacheLimit)
        {
            _cache.Clear();
        }

        var set = new PointSet(order, Threshold);
        _cache[key] = set;
        return set;
    }

    private ulong UniformFieldElement()
    {
        while (true)
        {
            // The top 61 bits are uniform in [0, 2^61); reject the single value p itself.
            ulong v = _random.NextUInt64() >> 3;
            if (v < Mersenne61.P)
            {
                return v;
            }
        }
    }

    private ulong UniformNonZeroFieldElement()
    {
        while (true)
        {
            ulong v = UniformFieldElement();
            if (v != 0)
            {
                return v;
            }
        }
    }

    private static ulong Pow(ulong b, ulong e)
    {
        ulong result = 1;
        while (e != 0)
        {
            if ((e & 1) != 0)
            {
                result = Mersenne61.Mul(result, b);
            }

            b = Mersenne61.Mul(b, b);
            e >>= 1;
        }

        return result;
    }

    private static ulong ReadChunk(ReadOnlySpan<byte> secret, int chunk)
    {
        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        int start = chunk * ChunkBytes;
        int count = Math.Min(ChunkBytes, secret.Length - start);
        secret.Slice(start, count).CopyTo(buffer);
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        CryptographicOperations.ZeroMemory(buffer);
        return value;
    }

    /// <summary>A sorted set of x's, compared by content.</summary>
    private readonly struct PointSetKey : IEquatable<PointSetKey>
    {
        private readonly int[] _xs;
        private readonly int _hash;

        public PointSetKey(int[] xs)
        {
            _xs = xs;
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(xs.AsSpan()));
            _hash = hash.ToHashCode();
        }

        public bool Equals(PointSetKey other) => _hash == other._hash && _xs.AsSpan().SequenceEqual(other._xs);

        public override bool Equals(object? obj) => obj is PointSetKey other && Equals(other);

        public override int GetHashCode() => _hash;
    }

    /// <summary>Per set of x's: Lagrange coefficients at 0 for the t smallest, and the dual-code multipliers for all.</summary>
    private sealed class PointSet
    {
        public PointSet(ShamirShare[] sorted, int t)
        {
            // λ_i = Π_{j≠i} x_j / (x_j − x_i) over the first t points.
            Lagrange = new ulong[t];
            var denominators = new ulong[t];
            for (int i = 0; i < t; i++)
            {
                ulong xi = (ulong)sorted[i].X;
                ulong numerator = 1;
                ulong denominator = 1;
                for (int j = 0; j < t; j++)
                {
                    if (j != i)
                    {
                        ulong xj = (ulong)sorted[j].X;
                        numerator = Mersenne61.Mul(numerator, xj);
                        denominator = Mersenne61.Mul(denominator, Mersenne61.Sub(xj, xi));
                    }
                }

                Lagrange[i] = numerator;
                denominators[i] = denominator;
            }

            Mersenne61.BatchInverse(denominators);
            for (int i = 0; i < t; i++)
            {
                Lagrange[i] = Mersenne61.Mul(Lagrange[i], denominators[i]);
            }

            int m = sorted.Length;
            if (m > t)
            {
                // v_j = 1 / Π_{l≠j} (x_j − x_l) over all m points.
                DualMultipliers = new ulong[m];
                for (int j = 0; j < m; j++)
                {
                    ulong xj = (ulong)sorted[j].X;
                    ulong product = 1;
                    for (int l = 0; l < m; l++)
                    {
                        if (l != j)
                        {
                            product = Mersenne61.Mul(product, Mersenne61.Sub(xj, (ulong)sorted[l].X));
                        }
                    }

                    DualMultipliers[j] = product;
                }

                Mersenne61.BatchInverse(DualMultipliers);
            }
        }

        public ulong[] Lagrange { get; }

        public ulong[]? DualMultipliers { get; }
    }
}
