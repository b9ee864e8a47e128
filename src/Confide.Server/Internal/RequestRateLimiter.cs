using System.Globalization;
using Confide.Time;
using Grpc.Core;

namespace Confide.Server.Internal;

/// <summary>
/// Applies <see cref="RateLimitOptions"/>: one token bucket per authenticated client, one per remote address for the
/// unsigned calls, and one per remote address for signed requests that fail authentication (so a flood of forged
/// requests stops costing signature checks). Refusals are RESOURCE_EXHAUSTED with the limit and the wait in the
/// message. Disabled (every request passes) when the server was configured without limits.
/// </summary>
internal sealed class RequestRateLimiter
{
    private readonly TokenBucketLimiter? _clients;
    private readonly TokenBucketLimiter? _addresses;
    private readonly TokenBucketLimiter? _failures;

    public RequestRateLimiter(RateLimitOptions? options, ISystemClock clock)
    {
        if (options is not null)
        {
            _clients = new TokenBucketLimiter(clock, options.ClientPerSecond, options.ClientBurst);
            _addresses = new TokenBucketLimiter(clock, options.AddressPerSecond, options.AddressBurst);
            _failures = new TokenBucketLimiter(clock, options.AddressPerSecond, options.AddressBurst);
        }
    }

    /// <summary>Counts a signed request of <paramref name="clientId"/> (call after its signature verified).</summary>
    public void CheckClient(string clientId)
    {
        if (_clients is not null && !_clients.TryTake(clientId, out var wait))
        {
            throw Refuse($"client '{clientId}'", _clients, wait);
        }
    }

    /// <summary>Counts an unsigned request (Enroll, GetStatus) from the caller's remote address.</summary>
    public void CheckAddress(ServerCallContext context)
    {
        if (_addresses is null)
        {
            return;
        }

        string address = Address(context);
        if (!_addresses.TryTake(address, out var wait))
        {
            throw Refuse($"address {address} (unsigned calls)", _addresses, wait);
        }
    }

    /// <summary>Refuses a signed request before any check when its address has used up its failed-authentication budget.</summary>
    public void CheckFailures(ServerCallContext context)
    {
        if (_failures is not null && Address(context) is var address && _failures.IsEmpty(address, out var wait))
        {
            throw Refuse($"address {address} (too many requests that failed authentication)", _failures, wait);
        }
    }

    /// <summary>Charges a signed request that failed authentication to its address.</summary>
    public void RecordFailure(ServerCallContext context) => _failures?.TryTake(Address(context), out _);

    // The TCP peer's address (not a header a caller could choose); "unknown" if the transport gives none.
    private static string Address(ServerCallContext context) => context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static RpcException Refuse(string who, TokenBucketLimiter limiter, TimeSpan wait) => new(new Status(StatusCode.ResourceExhausted,
        string.Create(CultureInfo.InvariantCulture,
            $"rate limit exceeded for {who}: at most {limiter.PerSecond:G4} requests per second with bursts of {limiter.Burst}; retry in {Math.Ceiling(wait.TotalMilliseconds):F0} ms")));
}
