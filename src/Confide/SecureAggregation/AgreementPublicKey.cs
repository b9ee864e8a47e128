using System.Security.Cryptography;
using NSec.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>An X25519 public key (RFC 7748) advertised for share encryption or for pairwise masks.</summary>
public sealed class AgreementPublicKey : IEquatable<AgreementPublicKey>
{
    /// <summary>The encoded length: 32 bytes.</summary>
    public const int Size = 32;

    private readonly byte[] _bytes;

    internal AgreementPublicKey(PublicKey key)
    {
        Key = key;
        _bytes = key.Export(KeyBlobFormat.RawPublicKey);
    }

    internal PublicKey Key { get; }

    /// <summary>Imports a raw 32-byte X25519 public key, refusing the points of small order.</summary>
    /// <remarks>
    /// A point of small order (0, 1, the two points of order 8, and their encodings as p − 1, p, p + 1 and with the
    /// top bit set) gives every peer the all-zero shared secret, so the pairwise mask seed and the share key derived
    /// from it would be public. Honest peers abort on it (RFC 7748 §6.1's check); refusing it here lets the server
    /// exclude the one client that advertised it at AdvertiseKeys instead of letting it abort its neighbours' round.
    /// </remarks>
    /// <exception cref="ArgumentException">The bytes are not 32 long, or they encode a point of small order.</exception>
    public static AgreementPublicKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size || !PublicKey.TryImport(KeyAgreementAlgorithm.X25519, bytes, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            throw new ArgumentException($"Not a valid {Size}-byte X25519 public key ({bytes.Length} bytes given).", nameof(bytes));
        }

        if (Internal.Libsodium.HasSmallOrder(bytes))
        {
            throw new ArgumentException("The X25519 public key is a point of small order: every shared secret with it would be all zeros (RFC 7748 §6.1).", nameof(bytes));
        }

        return new AgreementPublicKey(key);
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
