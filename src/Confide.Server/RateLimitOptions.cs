namespace Confide.Server;

/// <summary>
/// Token-bucket limits on requests: per enrolled client (counted after its signature verifies, so nobody can spend
/// another client's budget) and per remote IP address for the unsigned calls (Enroll, GetStatus). A refused request
/// gets RESOURCE_EXHAUSTED with a message saying which limit and when to retry. Validated where built.
/// </summary>
/// <remarks>
/// A bucket holds at most <c>Burst</c> requests and refills at <c>PerSecond</c>. The defaults leave ample room for
/// the reference client (it polls every <see cref="ServerOptions.RetryAfter"/>, 2 requests per second at the default)
/// while capping a flood. Behind a reverse proxy every client has the proxy's address: raise the per-address limit
/// or give each client its own route.
/// </remarks>
public sealed record RateLimitOptions
{
    /// <summary>Creates and validates the limits.</summary>
    /// <param name="clientPerSecond">Sustained signed requests per second per client (&gt; 0).</param>
    /// <param name="clientBurst">Signed requests a client may send at once (≥ 1).</param>
    /// <param name="addressPerSecond">Sustained unsigned requests per second per remote address (&gt; 0).</param>
    /// <param name="addressBurst">Unsigned requests an address may send at once (≥ 1).</param>
    public RateLimitOptions(double clientPerSecond, int clientBurst, double addressPerSecond, int addressBurst)
    {
        ClientPerSecond = Rate(clientPerSecond, nameof(clientPerSecond));
        AddressPerSecond = Rate(addressPerSecond, nameof(addressPerSecond));
        ArgumentOutOfRangeException.ThrowIfLessThan(clientBurst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(addressBurst, 1);
        ClientBurst = clientBurst;
        AddressBurst = addressBurst;
    }

    /// <summary>The defaults: 50 signed requests per second per client (burst 100), 10 unsigned per second per address (burst 100).</summary>
    public static RateLimitOptions Default { get; } = new(50, 100, 10, 100);

    /// <summary>Sustained signed requests per second per client.</summary>
    public double ClientPerSecond { get; }

    /// <summary>Signed requests a client may send at once.</summary>
    public int ClientBurst { get; }

    /// <summary>Sustained unsigned requests per second per remote address.</summary>
    public double AddressPerSecond { get; }

    /// <summary>Unsigned requests an address may send at once.</summary>
    public int AddressBurst { get; }

    private static double Rate(double value, string name) =>
        double.IsFinite(value) && value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, "A rate limit must be a finite number of requests per second > 0.");
}
