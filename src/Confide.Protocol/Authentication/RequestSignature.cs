using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Confide.Protocol.Authentication;

/// <summary>
/// The canonical bytes a client signs for every request after enrollment, and for its enrollment proof, as specified
/// in protos/confide.proto: Ed25519 (RFC 8032) over "confide.v1/request", the method, the client id, the timestamp,
/// the nonce and the SHA-256 of the body. Binding the method and the body hash stops a signature from being moved to
/// another call or another payload; the timestamp and the nonce let the server refuse replays.
/// </summary>
public static class RequestSignature
{
    /// <summary>Size of a nonce in bytes.</summary>
    public const int NonceSize = 16;

    /// <summary>Metadata key of the client id.</summary>
    public const string ClientIdHeader = "confide-client-id";

    /// <summary>Metadata key of the timestamp (Unix milliseconds).</summary>
    public const string TimestampHeader = "confide-timestamp";

    /// <summary>Metadata key of the nonce (hex).</summary>
    public const string NonceHeader = "confide-nonce";

    /// <summary>Metadata key of the body hash (hex).</summary>
    public const string BodyHashHeader = "confide-body-sha256";

    /// <summary>Metadata key of the signature (hex).</summary>
    public const string SignatureHeader = "confide-signature";

    /// <summary>The bytes signed for one request.</summary>
    public static byte[] CanonicalBytes(string method, string clientId, long timestampUnixMs, string nonceHex, string bodySha256Hex)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentException.ThrowIfNullOrEmpty(nonceHex);
        ArgumentException.ThrowIfNullOrEmpty(bodySha256Hex);
        CheckNoNewline(method, nameof(method));
        CheckNoNewline(clientId, nameof(clientId));
        return Encoding.UTF8.GetBytes(string.Create(
            CultureInfo.InvariantCulture,
            $"confide.v1/request\n{method}\n{clientId}\n{timestampUnixMs}\n{nonceHex}\n{bodySha256Hex}"));
    }

    /// <summary>The bytes an enrolling client signs to prove it holds the private key of <paramref name="publicKey"/>.</summary>
    public static byte[] EnrollmentProofBytes(string token, ReadOnlySpan<byte> publicKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        CheckNoNewline(token, nameof(token));
        return Encoding.UTF8.GetBytes($"confide.v1/enroll\n{token}\n{Convert.ToHexStringLower(publicKey)}");
    }

    /// <summary>Lowercase hex SHA-256 of <paramref name="body"/>.</summary>
    public static string BodyHash(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    /// <summary>
    /// Verifies an Ed25519 signature under a raw 32-byte public key. Returns false (never throws) for a malformed key
    /// or signature, so callers can answer every failure the same way.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != 32 || signature.Length != 64)
        {
            return false;
        }

        if (!PublicKey.TryImport(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            return false;
        }

        return SignatureAlgorithm.Ed25519.Verify(key, message, signature);
    }

    private static void CheckNoNewline(string value, string name)
    {
        if (value.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("The value must not contain a newline (it would make the signed text ambiguous).", name);
        }
    }
}
