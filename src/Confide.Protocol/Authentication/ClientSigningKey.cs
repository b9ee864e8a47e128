using System.Security.Cryptography;
using Confide.Randomness;
using NSec.Cryptography;

namespace Confide.Protocol.Authentication;

/// <summary>
/// A client's long-term Ed25519 (RFC 8032) request-signing key. Unlike the SecAgg identity key, it can be saved: a
/// networked client must keep its identity across restarts, so the 32-byte private seed can be exported into a
/// caller-owned span (which the caller writes to a 0600 file and zeroes). Zeroed on <see cref="Dispose"/>; never in
/// <see cref="ToString"/>.
/// </summary>
public sealed class ClientSigningKey : IDisposable
{
    /// <summary>Size of the private seed.</summary>
    public const int SeedSize = 32;

    private readonly Key _key;

    private ClientSigningKey(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The raw 32-byte public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>A fresh key from <paramref name="random"/> (a CSPRNG in production).</summary>
    public static ClientSigningKey Generate(IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<byte> seed = stackalloc byte[SeedSize];
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

    /// <summary>Rebuilds a key from its 32-byte private seed.</summary>
    public static ClientSigningKey Import(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SeedSize)
        {
            throw new ArgumentException($"An Ed25519 private seed is {SeedSize} bytes; got {seed.Length}.", nameof(seed));
        }

        var parameters = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        return new ClientSigningKey(Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey, in parameters));
    }

    /// <summary>Writes the 32-byte private seed into <paramref name="destination"/>; the caller must zero it after use.</summary>
    public void ExportSeed(Span<byte> destination)
    {
        if (destination.Length != SeedSize)
        {
            throw new ArgumentException($"The destination must be {SeedSize} bytes; it is {destination.Length}.", nameof(destination));
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

    /// <summary>Signs <paramref name="message"/>; returns the 64-byte signature.</summary>
    public byte[] Sign(ReadOnlySpan<byte> message) => SignatureAlgorithm.Ed25519.Sign(_key, message);

    /// <summary>Zeroes and frees the key.</summary>
    public void Dispose() => _key.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"ClientSigningKey(Ed25519:{Convert.ToHexStringLower(PublicKey.AsSpan(0, 8))}…)";
}
