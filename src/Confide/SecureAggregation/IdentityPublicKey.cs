using System.Security.Cryptography;
using Confide.SecureAggregation.Internal;
using NSec.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>A participant's Ed25519 public identity key (RFC 8032), which verifies its signatures.</summary>
/// <remarks>
/// Signatures are domain-separated: the signed bytes are "Confide/SecAgg/signature/v1" ‖ purpose ‖ message (each
/// length-prefixed), so a signature made for one purpose (say, advertised keys) never verifies for another
/// (say, the survivor list of the consistency check). <see cref="VerifyLabelled"/> checks the wire protocol's text
/// framing instead, label ‖ '\n' ‖ message; the two framings cannot collide because the purpose framing starts with a
/// control byte (27, the length of its label) and a text label starts with a printable character.
/// </remarks>
public sealed class IdentityPublicKey : IEquatable<IdentityPublicKey>
{
    /// <summary>The encoded length: 32 bytes.</summary>
    public const int Size = 32;

    /// <summary>The Ed25519 signature length: 64 bytes.</summary>
    public const int SignatureSize = 64;

    private readonly byte[] _bytes;

    internal IdentityPublicKey(PublicKey key)
    {
        Key = key;
        _bytes = key.Export(KeyBlobFormat.RawPublicKey);
    }

    internal PublicKey Key { get; }

    /// <summary>Imports a raw 32-byte Ed25519 public key.</summary>
    /// <exception cref="ArgumentException">The bytes are not a valid Ed25519 public key.</exception>
    public static IdentityPublicKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size || !PublicKey.TryImport(SignatureAlgorithm.Ed25519, bytes, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            throw new ArgumentException($"Not a valid {Size}-byte Ed25519 public key ({bytes.Length} bytes given).", nameof(bytes));
        }

        return new IdentityPublicKey(key);
    }

    /// <summary>Imports a raw 32-byte Ed25519 public key; false (never an exception) if the bytes are not one.</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IdentityPublicKey? key)
    {
        key = null;
        if (bytes.Length != Size || !PublicKey.TryImport(SignatureAlgorithm.Ed25519, bytes, KeyBlobFormat.RawPublicKey, out var imported) || imported is null)
        {
            return false;
        }

        key = new IdentityPublicKey(imported);
        return true;
    }

    /// <summary>The raw 32 bytes.</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    /// <summary>Whether <paramref name="signature"/> is this key's signature of <paramref name="message"/> for <paramref name="purpose"/>.</summary>
    public bool Verify(string purpose, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureSize)
        {
            return false;
        }

        byte[] signed = SignedBytes(purpose, message);
        return SignatureAlgorithm.Ed25519.Verify(Key, signed, signature);
    }

    /// <summary>
    /// Whether <paramref name="signature"/> is this key's signature of UTF-8(<paramref name="label"/>) ‖ '\n' ‖
    /// <paramref name="message"/>, as made by <see cref="IdentityKeyPair.SignLabelled"/>.
    /// </summary>
    public bool VerifyLabelled(string label, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureSize)
        {
            return false;
        }

        return SignatureAlgorithm.Ed25519.Verify(Key, LabelledBytes(label, message), signature);
    }

    /// <summary>Throws unless <see cref="Verify"/> holds.</summary>
    /// <exception cref="SignatureVerificationException">The signature is missing, malformed or wrong.</exception>
    public void VerifyOrThrow(string purpose, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (!Verify(purpose, message, signature))
        {
            throw new SignatureVerificationException(
                $"The {(signature.Length == SignatureSize ? "" : $"{signature.Length}-byte ")}signature for purpose \"{purpose}\" does not verify under identity key {this}.");
        }
    }

    /// <inheritdoc/>
    public bool Equals(IdentityPublicKey? other) => other is not null && CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as IdentityPublicKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(_bytes, 0);

    /// <inheritdoc/>
    public override string ToString() => $"Ed25519:{Convert.ToHexString(_bytes.AsSpan(0, 8)).ToLowerInvariant()}…";

    internal static byte[] SignedBytes(string purpose, ReadOnlySpan<byte> message)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        byte[] label = System.Text.Encoding.ASCII.GetBytes("Confide/SecAgg/signature/v1");
        byte[] purposeBytes = System.Text.Encoding.UTF8.GetBytes(purpose);
        if (purposeBytes.Length > 255)
        {
            throw new ArgumentException("A signature purpose is at most 255 bytes.", nameof(purpose));
        }

        var signed = new byte[1 + label.Length + 1 + purposeBytes.Length + message.Length];
        signed[0] = (byte)label.Length;
        label.CopyTo(signed, 1);
        signed[1 + label.Length] = (byte)purposeBytes.Length;
        purposeBytes.CopyTo(signed, 2 + label.Length);
        message.CopyTo(signed.AsSpan(2 + label.Length + purposeBytes.Length));
        return signed;
    }

    internal static byte[] LabelledBytes(string label, ReadOnlySpan<byte> message)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        if (label.Length > 255)
        {
            throw new ArgumentException($"A signature label is at most 255 characters; it has {label.Length}.", nameof(label));
        }

        // Printable ASCII without space or newline: the label ends at the first '\n', so labels are prefix-free, and
        // its first byte can never be the control byte that starts the purpose framing.
        foreach (char c in label)
        {
            if (c is < '!' or > '~')
            {
                throw new ArgumentException($"A signature label must be printable ASCII without spaces or newlines; \"{label}\" is not.", nameof(label));
            }
        }

        var signed = new byte[label.Length + 1 + message.Length];
        System.Text.Encoding.ASCII.GetBytes(label, signed);
        signed[label.Length] = (byte)'\n';
        message.CopyTo(signed.AsSpan(label.Length + 1));
        return signed;
    }
}
