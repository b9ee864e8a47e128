using System.Security.Cryptography;
using Confide.Randomness;
using NSec.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>
/// An X25519 key pair (RFC 7748, through NSec/libsodium) for one round: c (share encryption) or s (pairwise masks)
/// in Bonawitz et al., CCS 2017. The private key is zeroed on <see cref="Dispose"/> and never printed.
/// </summary>
/// <remarks>
/// The mask key's private half must be Shamir-shared so the server can remove a dropped client's pairwise masks;
/// <see cref="ExportPrivateKey"/> exists for that one purpose, and <see cref="Import"/> rebuilds the key from the
/// reconstructed bytes on the server.
/// </remarks>
public sealed class AgreementKeyPair : IDisposable
{
    /// <summary>The private key length: 32 bytes.</summary>
    public const int PrivateKeySize = 32;

    private readonly Key _key;

    private AgreementKeyPair(Key key)
    {
        _key = key;
        PublicKey = new AgreementPublicKey(key.PublicKey);
    }

    /// <summary>The public half, to advertise (signed with the identity key).</summary>
    public AgreementPublicKey PublicKey { get; }

    internal Key Key => _key;

    /// <summary>A fresh key pair from 32 bytes of <paramref name="random"/> (a CSPRNG in production).</summary>
    public static AgreementKeyPair Generate(IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> seed = stackalloc byte[PrivateKeySize];
        try
        {
            random.NextBytes(seed);
            return Import(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Rebuilds a key pair from its 32 private bytes (for a mask key reconstructed from Shamir shares).</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static AgreementKeyPair Import(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != PrivateKeySize)
        {
            throw new ArgumentException($"An X25519 private key is {PrivateKeySize} bytes; got {privateKey.Length}.", nameof(privateKey));
        }

        var exportable = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        return new AgreementKeyPair(Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey, in exportable));
    }

    /// <summary>Writes the 32 private bytes, for Shamir-sharing the mask key. Zero the destination when done.</summary>
    public void ExportPrivateKey(Span<byte> destination)
    {
        if (destination.Length != PrivateKeySize)
        {
            throw new ArgumentException($"The destination must be {PrivateKeySize} bytes; got {destination.Length}.", nameof(destination));
        }

        if (!_key.TryExport(KeyBlobFormat.RawPrivateKey, destination, out int written) || written != PrivateKeySize)
        {
            throw new CryptographicException("The X25519 private key could not be exported.");
        }
    }

    /// <summary>Zeroes and frees the private key.</summary>
    public void Dispose() => _key.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"AgreementKeyPair({PublicKey})";
}
