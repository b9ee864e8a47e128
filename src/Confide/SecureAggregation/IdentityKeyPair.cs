using System.Security.Cryptography;
using Confide.Randomness;
using NSec.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>
/// A participant's long-term Ed25519 identity key (RFC 8032, through NSec/libsodium). It signs the advertised
/// secure-aggregation keys and the consistency-check survivor list (Bonawitz et al., CCS 2017, malicious-server variant).
/// The networked client uses the same key type to sign its requests (<see cref="SignLabelled"/>) and keeps it in a key
/// file: a key made with <c>allowSeedExport: true</c> can write its 32-byte private seed into a caller-owned span
/// (<see cref="ExportPrivateSeed"/>), and <see cref="ImportPrivateSeed"/> rebuilds it. Other keys refuse export. The
/// private key is zeroed on <see cref="Dispose"/> and never appears in <see cref="ToString"/>.
/// </summary>
public sealed class IdentityKeyPair : IDisposable
{
    /// <summary>Size of the Ed25519 private seed (RFC 8032 §5.1.5): 32 bytes.</summary>
    public const int PrivateSeedSize = 32;

    private readonly Key _key;

    private IdentityKeyPair(Key key)
    {
        _key = key;
        PublicKey = new IdentityPublicKey(key.PublicKey);
    }

    /// <summary>The public half, to publish.</summary>
    public IdentityPublicKey PublicKey { get; }

    /// <summary>Whether <see cref="ExportPrivateSeed"/> is allowed for this key.</summary>
    public bool CanExportPrivateSeed => _key.ExportPolicy.HasFlag(KeyExportPolicies.AllowPlaintextExport);

    /// <summary>A fresh key pair whose 32-byte private seed comes from <paramref name="random"/> (a CSPRNG in production).</summary>
    /// <param name="random">The source of the seed.</param>
    /// <param name="allowSeedExport">Whether <see cref="ExportPrivateSeed"/> may be called (only for a key that must be saved).</param>
    public static IdentityKeyPair Generate(IRandomSource random, bool allowSeedExport = false)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> seed = stackalloc byte[PrivateSeedSize];
        try
        {
            random.NextBytes(seed);
            return ImportPrivateSeed(seed, allowSeedExport);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Rebuilds a key pair from its 32-byte private seed (as written by <see cref="ExportPrivateSeed"/>).</summary>
    /// <param name="seed">The seed; the caller still owns it and should zero it.</param>
    /// <param name="allowSeedExport">Whether the rebuilt key may export its seed again.</param>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public static IdentityKeyPair ImportPrivateSeed(ReadOnlySpan<byte> seed, bool allowSeedExport = false)
    {
        if (seed.Length != PrivateSeedSize)
        {
            throw new ArgumentException($"An Ed25519 private seed is {PrivateSeedSize} bytes; {seed.Length} bytes were given.", nameof(seed));
        }

        var parameters = new KeyCreationParameters
        {
            ExportPolicy = allowSeedExport ? KeyExportPolicies.AllowPlaintextExport : KeyExportPolicies.None,
        };
        return new IdentityKeyPair(Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey, in parameters));
    }

    /// <summary>
    /// Writes the 32-byte private seed into <paramref name="destination"/>, which the caller must zero
    /// (<see cref="CryptographicOperations.ZeroMemory"/>) as soon as it has stored it.
    /// </summary>
    /// <exception cref="ArgumentException">The destination is not 32 bytes.</exception>
    /// <exception cref="InvalidOperationException">The key was not created with <c>allowSeedExport: true</c>.</exception>
    public void ExportPrivateSeed(Span<byte> destination)
    {
        if (destination.Length != PrivateSeedSize)
        {
            throw new ArgumentException($"The destination of an Ed25519 private seed must be {PrivateSeedSize} bytes; it is {destination.Length}.", nameof(destination));
        }

        if (!CanExportPrivateSeed)
        {
            throw new InvalidOperationException("This identity key was created without allowSeedExport, so its private seed cannot be exported.");
        }

        byte[] blob = _key.Export(KeyBlobFormat.RawPrivateKey);
        try
        {
            blob.CopyTo(destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(blob);
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

    /// <summary>
    /// Signs UTF-8(<paramref name="label"/>) ‖ '\n' ‖ <paramref name="message"/>: the text framing of the wire protocol's
    /// request and enrollment signatures (protos/confide.proto), with the label as its domain separator (for example
    /// "confide.v1/request"). See <see cref="IdentityPublicKey.VerifyLabelled"/> for why this never collides with
    /// <see cref="Sign(string, ReadOnlySpan{byte})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The label is empty, longer than 255 characters, or not printable ASCII without spaces.</exception>
    public byte[] SignLabelled(string label, ReadOnlySpan<byte> message)
    {
        byte[] signed = IdentityPublicKey.LabelledBytes(label, message);
        return SignatureAlgorithm.Ed25519.Sign(_key, signed);
    }

    /// <summary>Zeroes and frees the private key.</summary>
    public void Dispose() => _key.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"IdentityKeyPair({PublicKey})";
}
