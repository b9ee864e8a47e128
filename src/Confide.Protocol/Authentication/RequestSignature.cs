using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confide.SecureAggregation;

namespace Confide.Protocol.Authentication;

/// <summary>
/// The canonical bytes a client signs for every request after enrollment, and for its enrollment proof, as specified
/// in protos/confide.proto: Ed25519 (RFC 8032) over "confide.v1/request", the method, the client id, the timestamp,
/// the nonce and the SHA-256 of the body. Binding the method and the body hash stops a signature from being moved to
/// another call or another payload; the timestamp and the nonce let the server refuse replays. Signing goes through
/// the client's <see cref="IdentityKeyPair"/> with <see cref="RequestLabel"/> or <see cref="EnrollmentLabel"/> as the
/// label of <see cref="IdentityKeyPair.SignLabelled"/>, whose text framing (label, newline, fields) is byte-for-byte
/// the format the proto file documents.
/// </summary>
public static class RequestSignature
{
    /// <summary>Size of a nonce in bytes.</summary>
    public const int NonceSize = 16;

    /// <summary>The domain-separation label of request signatures.</summary>
    public const string RequestLabel = "confide.v1/request";

    /// <summary>The domain-separation label of enrollment proofs.</summary>
    public const string EnrollmentLabel = "confide.v1/enroll";

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

    /// <summary>
    /// The full bytes signed for one request, as protos/confide.proto documents them ("confide.v1/request\n" and the
    /// fields): what a client in another language signs with plain Ed25519.
    /// </summary>
    public static byte[] CanonicalBytes(string method, string clientId, long timestampUnixMs, string nonceHex, string bodySha256Hex) =>
        Encoding.UTF8.GetBytes(RequestLabel + "\n" + RequestFields(method, clientId, timestampUnixMs, nonceHex, bodySha256Hex));

    /// <summary>Signs one request; returns the 64-byte signature to send hex-encoded in <see cref="SignatureHeader"/>.</summary>
    public static byte[] SignRequest(IdentityKeyPair key, string method, string clientId, long timestampUnixMs, string nonceHex, string bodySha256Hex)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.SignLabelled(RequestLabel, Encoding.UTF8.GetBytes(RequestFields(method, clientId, timestampUnixMs, nonceHex, bodySha256Hex)));
    }

    /// <summary>
    /// Whether <paramref name="signature"/> signs the request under the raw 32-byte <paramref name="publicKey"/>.
    /// Returns false (never throws) for a malformed key or signature, so callers can answer every failure the same way.
    /// </summary>
    public static bool VerifyRequest(ReadOnlySpan<byte> publicKey, string method, string clientId, long timestampUnixMs, string nonceHex, string bodySha256Hex, ReadOnlySpan<byte> signature) =>
        IdentityPublicKey.TryFromBytes(publicKey, out var key)
        && key.VerifyLabelled(RequestLabel, Encoding.UTF8.GetBytes(RequestFields(method, clientId, timestampUnixMs, nonceHex, bodySha256Hex)), signature);

    /// <summary>The full bytes an enrolling client signs to prove it holds the private key of <paramref name="publicKey"/>.</summary>
    public static byte[] EnrollmentProofBytes(string token, ReadOnlySpan<byte> publicKey) =>
        Encoding.UTF8.GetBytes(EnrollmentLabel + "\n" + EnrollmentFields(token, publicKey));

    /// <summary>The enrollment proof of <paramref name="key"/> for <paramref name="token"/>.</summary>
    public static byte[] SignEnrollmentProof(IdentityKeyPair key, string token)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.SignLabelled(EnrollmentLabel, Encoding.UTF8.GetBytes(EnrollmentFields(token, key.PublicKey.ToBytes())));
    }

    /// <summary>Whether <paramref name="proof"/> is a valid enrollment proof of the raw 32-byte <paramref name="publicKey"/> for <paramref name="token"/>; false (never throws) for a malformed key or proof.</summary>
    public static bool VerifyEnrollmentProof(ReadOnlySpan<byte> publicKey, string token, ReadOnlySpan<byte> proof) =>
        IdentityPublicKey.TryFromBytes(publicKey, out var key)
        && key.VerifyLabelled(EnrollmentLabel, Encoding.UTF8.GetBytes(EnrollmentFields(token, publicKey)), proof);

    /// <summary>Lowercase hex SHA-256 of <paramref name="body"/>.</summary>
    public static string BodyHash(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    private static string RequestFields(string method, string clientId, long timestampUnixMs, string nonceHex, string bodySha256Hex)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentException.ThrowIfNullOrEmpty(nonceHex);
        ArgumentException.ThrowIfNullOrEmpty(bodySha256Hex);
        CheckNoNewline(method, nameof(method));
        CheckNoNewline(clientId, nameof(clientId));
        return string.Create(CultureInfo.InvariantCulture, $"{method}\n{clientId}\n{timestampUnixMs}\n{nonceHex}\n{bodySha256Hex}");
    }

    private static string EnrollmentFields(string token, ReadOnlySpan<byte> publicKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        CheckNoNewline(token, nameof(token));
        return $"{token}\n{Convert.ToHexStringLower(publicKey)}";
    }

    private static void CheckNoNewline(string value, string name)
    {
        if (value.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("The value must not contain a newline (it would make the signed text ambiguous).", name);
        }
    }
}
