using System.Security.Cryptography;
using Confide.Randomness;
using NSec.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>
/// A participant's long-term Ed25519 identity key (RFC 8032, through NSec/libsodium). It signs the advertised
/// secure-aggregation keys and the consistency-check survivor list (Bonawitz et al., CCS 2017, malicious-server variant).
/// The private key cannot be exported; it is zeroed on <see cref="Dispose"/>.
/// </summary>
public sealed class IdentityKeyPair : IDisposable
{
    private readonly Key _key;

    private IdentityKeyPair(Key key)
    {
        _key = key;
        PublicKey = new IdentityPublicKey(key.PublicKey);
    }

    /// <summary>The public half, to publish.</summary>
    public IdentityPublicKey PublicKey { get; }

    /// <summary>A fresh key pair whose 32-byte private seed comes from <paramref name="random"/> (a CSPRNG in production).</summary>
    public static IdentityKeyPair Generate(IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> seed = stackalloc byte[32];
        try
        {
            random.NextBytes(seed);
            return new IdentityKeyPair(Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Signs <paramref name="message"/> for <paramref name="purpose"/> (a short label such as "advertise-keys").</summary>
    public byte[] Sign(string purpose, ReadOnlySpan<byte> message)
    {
        var signature = new byte[IdentityPublicKey.SignatureSize];
        Sign(purpose, message, signature);
        return signature;
    }

    /// <summary>Signs into <paramref name="signature"/> (64 bytes).</summary>
    public void Sign(string purpose, ReadOnlySpan<byte> message, Span<byte> signature)
    {
        if (signature.Length != IdentityPublicKey.SignatureSize)
        {
            throw new ArgumentException($"An Ed25519 signature is {IdentityPublicKey.SignatureSize} bytes; the destination has {signature.Length}.", nameof(signature));
        }

        SignatureAlgorithm.Ed25519.Sign(_key, IdentityPublicKey.SignedBytes(purpose, message), signature);
    }

    /// <summary>Zeroes and frees the private key.</summary>
    public void Dispose() => _key.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"IdentityKeyPair({PublicKey})";
}
