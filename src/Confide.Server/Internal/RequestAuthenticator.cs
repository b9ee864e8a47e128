using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Confide.Protocol.Authentication;
using Confide.Time;
using Grpc.Core;

namespace Confide.Server.Internal;

/// <summary>
/// Checks a signed request's metadata before its body is read: the client is enrolled, the timestamp is inside the
/// window, the Ed25519 signature over (method, client id, timestamp, nonce, body hash) verifies, and the nonce is new.
/// The nonce is recorded only after the signature verifies, so nobody can fill the nonce table for another client.
/// The client's rate limit is charged after the signature verifies too, for the same reason.
/// </summary>
internal sealed class RequestAuthenticator(StateStore store, ISystemClock clock, TimeSpan window, RequestRateLimiter limiter)
{
    private readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    /// <summary>
    /// Returns the authenticated client id and the signed body hash; throws an Unauthenticated RpcException otherwise
    /// (and charges the failure to the caller's address; an address over its failure budget is refused up front).
    /// </summary>
    public (string ClientId, byte[] BodyHash) Authenticate(ServerCallContext context)
    {
        limiter.CheckFailures(context);
        try
        {
            return Check(context);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unauthenticated)
        {
            limiter.RecordFailure(context);
            throw;
        }
    }

    private (string ClientId, byte[] BodyHash) Check(ServerCallContext context)
    {
        var headers = context.RequestHeaders;
        string clientId = Required(headers, RequestSignature.ClientIdHeader);
        string timestampText = Required(headers, RequestSignature.TimestampHeader);
        string nonce = Required(headers, RequestSignature.NonceHeader);
        string bodyHashHex = Required(headers, RequestSignature.BodyHashHeader);
        string signatureHex = Required(headers, RequestSignature.SignatureHeader);

        if (clientId.Length > 64 || !_keys.TryGetValue(clientId, out byte[]? key) && (key = store.FindClientKey(clientId)) is null)
        {
            throw Refuse($"unknown client id '{Truncate(clientId)}'; enroll first");
        }

        _keys.TryAdd(clientId, key);
        if (!long.TryParse(timestampText, NumberStyles.None, CultureInfo.InvariantCulture, out long timestamp))
        {
            throw Refuse("the timestamp is not a decimal number of Unix milliseconds");
        }

        long now = clock.UtcNow.ToUnixTimeMilliseconds();
        long windowMs = (long)window.TotalMilliseconds;
        if (Math.Abs(now - timestamp) > windowMs)
        {
            throw Refuse($"the request timestamp is {(now - timestamp) / 1000.0:F0} s away from the server clock; at most {window.TotalSeconds:F0} s is allowed (stale request or clock skew)");
        }

        if (!IsHex(nonce, RequestSignature.NonceSize * 2) || !IsHex(bodyHashHex, 64) || !IsHex(signatureHex, 128))
        {
            throw Refuse("the nonce, body hash or signature is not lowercase hex of the right length (32, 64 and 128 characters)");
        }

        if (!RequestSignature.VerifyRequest(key, context.Method, clientId, timestamp, nonce, bodyHashHex, Convert.FromHexString(signatureHex)))
        {
            throw Refuse("the request signature does not verify under the client's enrolled key");
        }

        limiter.CheckClient(clientId);
        if (!store.TryUseNonce(clientId, nonce, now, timestamp + windowMs))
        {
            throw Refuse("the nonce has already been used: replayed request refused");
        }

        return (clientId, Convert.FromHexString(bodyHashHex));
    }

    /// <summary>Charges an unsigned call (Enroll, GetStatus) to the caller's address; throws RESOURCE_EXHAUSTED over the limit.</summary>
    public void CheckUnsigned(ServerCallContext context) => limiter.CheckAddress(context);

    /// <summary>Throws unless <paramref name="actualHash"/> equals the signed hash.</summary>
    public static void CheckBody(byte[] signedHash, ReadOnlySpan<byte> actualHash)
    {
        if (!CryptographicOperations.FixedTimeEquals(signedHash, actualHash))
        {
            throw Refuse("the request body does not match the SHA-256 in its signed metadata");
        }
    }

    private static string Required(Metadata headers, string key) =>
        headers.GetValue(key) is { Length: > 0 } value ? value : throw Refuse($"missing request metadata '{key}'; every request after enrollment must be signed");

    private static bool IsHex(string s, int length) =>
        s.Length == length && s.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    private static RpcException Refuse(string message) => new(new Status(StatusCode.Unauthenticated, message));
}
