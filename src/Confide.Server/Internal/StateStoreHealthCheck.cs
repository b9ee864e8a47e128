using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Confide.Server.Internal;

/// <summary>
/// The server's health for the standard gRPC health service (grpc.health.v1.Health): healthy (SERVING) while the state
/// store answers a query and the round host has not failed; unhealthy (NOT_SERVING) once a round step could not be
/// persisted (the server then waits for a restart) or the store cannot be read.
/// </summary>
/// <remarks>
/// Health probes are unsigned and not rate limited, so the store is queried at most once per
/// <see cref="PingInterval"/>: a flood of probes cannot contend for the store's lock with the rounds.
/// </remarks>
internal sealed class StateStoreHealthCheck(StateStore store, RoundHost host) : IHealthCheck
{
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(1);
    private readonly Lock _gate = new();
    private long _pingedAt = long.MinValue;
    private bool _storeAnswered;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (host.Finished.IsFaulted)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("a round step could not be persisted; restart the server to resume"));
        }

        bool answered;
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (_pingedAt == long.MinValue || now - _pingedAt >= (long)PingInterval.TotalMilliseconds)
            {
                _storeAnswered = store.Ping();
                _pingedAt = now;
            }

            answered = _storeAnswered;
        }

        return Task.FromResult(answered
            ? HealthCheckResult.Healthy("the state store is open")
            : HealthCheckResult.Unhealthy("the state store does not answer"));
    }
}
