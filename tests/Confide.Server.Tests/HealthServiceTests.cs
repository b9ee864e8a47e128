using Grpc.Core;
using Grpc.Health.V1;

namespace Confide.Server.Tests;

/// <summary>The standard gRPC health service (grpc.health.v1.Health) on a running server.</summary>
public sealed class HealthServiceTests
{
    [Fact]
    public async Task The_server_reports_serving_once_the_store_is_open_and_not_serving_when_it_fails()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 1));
        using var key = Confide.SecureAggregation.IdentityKeyPair.Generate(new Confide.Randomness.SeededRandomSource(5));
        var client = federation.Connect(key);
        var health = new Health.HealthClient(client.Channel);

        // Unsigned, like any standard health probe.
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = ConfideServer.FederationServiceName })).Status);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        // A store that no longer answers makes the server NOT_SERVING (rather than an error or a stale SERVING); the
        // store is pinged at most once a second, so this may take up to that long.
        federation.Server!.Store.Dispose();
        var status = HealthCheckResponse.Types.ServingStatus.Serving;
        for (int i = 0; i < 100 && status == HealthCheckResponse.Types.ServingStatus.Serving; i++)
        {
            await Task.Delay(50);
            status = (await health.CheckAsync(new HealthCheckRequest())).Status;
        }

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, status);
    }
}
