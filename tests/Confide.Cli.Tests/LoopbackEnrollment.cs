using Confide.Client;

namespace Confide.Cli.Tests;

/// <summary>Enrollment against a <c>confide server</c> that a test has just started in process.</summary>
internal static class LoopbackEnrollment
{
    /// <summary>Enrolls <paramref name="client"/>, retrying while the server is still starting (UNAVAILABLE).</summary>
    public static async Task EnrollWhenListeningAsync(FederationClient client, string token, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await client.EnrollAsync(token, cancellationToken: cancellationToken);
                return;
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Unavailable && attempt < 200)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }
}
