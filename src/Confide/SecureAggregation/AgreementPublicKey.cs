using System.Security.Cryptography;
using NSec.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>An X25519 public key (RFC 7748) advertised for share encryption or for pairwise masks.</summary>
public sealed class AgreementPublicKey : IEquatable<AgreementPublicKey>
{
    /// <summary>The encoded length: 32 bytes.</summary>
    public const int Size = 32;

    // Little-endian u: 0, 1, the two points of order 8, p − 1, p (≡ 0) and p + 1 (≡ 1), with p = 2^255 − 19.
    private static readonly byte[][] SmallOrderPoints =
    [
        Convert.FromHexString("0000000000000000000000000000000000000000000000000000000000000000"),
        Convert.FromHexString("0100000000000000000000000000000000000000000000000000000000000000"),
        Convert.FromHexString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        Convert.FromHexString("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        Convert.FromHexString("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        Convert.FromHexString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        Convert.FromHexString("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ];

    private readonly byte[] _bytes;

    internal AgreementPublicKey(PublicKey key)
    {
        Key = key;
        _bytes = key.Export(KeyBlobFormat.RawPublicKey);
    }

    internal PublicKey Key { get; }

    /// <summary>Imports a raw 32-byte X25519 public key.</summary>
    /// <remarks>A key of small order is imported, but every agreement with it fails (see <see cref="IsSmallOrder"/>).</remarks>
    /// <exception cref="ArgumentException">The bytes are not 32 long.</exception>
    public static AgreementPublicKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size || !PublicKey.TryImport(KeyAgreementAlgorithm.X25519, bytes, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            throw new ArgumentException($"Not a valid {Size}-byte X25519 public key ({bytes.Length} bytes given).", nameof(bytes));
        }

        return new AgreementPublicKey(key);
    }

    /// <summary>
    /// True when <paramref name="bytes"/> (32 bytes) encode a point of small order: 0, 1, the two points of order 8,
    /// p − 1, p or p + 1, each also with the top bit set. Every shared secret with such a key is all zeros (RFC 7748
    /// §6.1), so a pairwise mask seed or share key derived from it would be public.
    /// </summary>
    /// <remarks>
    /// An agreement already refuses these keys, so a client that agrees with each neighbour's key needs no separate
    /// check. A party that only relays keys (the SecAgg server) calls this to refuse them on arrival. X25519 ignores
    /// the top bit and reads u mod p, so these seven values, compared on the low 255 bits, are every encoding of a
    /// point of order 1, 2, 4 or 8 on the curve or its twist (the list libsodium checks against).
    /// </remarks>
    /// <exception cref="ArgumentException">The bytes are not 32 long.</exception>
    public static bool IsSmallOrder(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"An X25519 public key is {Size} bytes; {bytes.Length} were given.", nameof(bytes));
        }

        Span<byte> u = stackalloc byte[Size];
        bytes.CopyTo(u);
        u[Size - 1] &= 0x7f;
        foreach (byte[] point in SmallOrderPoints)
        {
            if (u.SequenceEqual(point))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The raw 32 bytes.</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    internal ReadOnlySpan<byte> Bytes => _bytes;

    /// <inheritdoc/>
    public bool Equals(AgreementPublicKey? other) => other is not null && CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as AgreementPublicKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(_bytes, 0);

    /// <inheritdoc/>
    public override string ToString() => $"X25519:{Convert.ToHexString(_bytes.AsSpan(0, 8)).ToLowerInvariant()}…";
}
