using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Confide.Server.Internal;

/// <summary>
/// The server's health for the standard gRPC health service (grpc.health.v1.Health): healthy (SERVING) while the state
/// store answers a query and the round host has not failed; unhealthy (NOT_SERVING) once a round step could not be
/// persisted (the server then waits for a restart) or the store cannot be read.
/// </summary>
internal sealed class StateStoreHealthCheck(StateStore store, RoundHost host) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (host.Finished.IsFaulted)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("a round step could not be persisted; restart the server to resume"));
        }

        return Task.FromResult(store.Ping()
            ? HealthCheckResult.Healthy("the state store is open")
            : HealthCheckResult.Unhealthy("the state store does not answer"));
    }
}
