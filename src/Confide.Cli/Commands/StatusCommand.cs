using System.CommandLine;
using System.Globalization;
using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Wire.V1;
using Grpc.Core;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide status</c>: asks a running server for its public status (the unsigned GetStatus RPC) and prints the round,
/// the clients, the privacy spent and, in a secure round, the SecAgg stage with its message counts and deadline.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "Server address, e.g. https://fl.example.org:7443.", Required = true };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "The server certificate's SHA-256 fingerprint, as the server printed it." };
        var insecure = new Option<bool>("--insecure") { Description = "Plain HTTP/2 without TLS (loopback servers only)." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the answer.", DefaultValueFactory = _ => 10 };

        var command = new Command("status", "Show a running server's round, clients, privacy spent and secure-aggregation stage.");
        foreach (var o in new Option[] { server, fingerprint, insecure, timeout })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            int seconds = parse.GetValue(timeout);
            if (seconds < 1 || seconds > 3600)
            {
                throw new CliException($"--timeout must be between 1 and 3600 seconds; got {seconds}.", 2);
            }

            string address = parse.GetValue(server)!;
            var options = new FederationClientOptions(new Uri(address), parse.GetValue(fingerprint), parse.GetValue(insecure)) { CallTimeout = TimeSpan.FromSeconds(seconds) };

            // GetStatus is unsigned; the client type wants a key, so it gets a throwaway one that never signs anything.
            using var key = IdentityKeyPair.Generate(CryptoRandomSource.Instance);
            using var client = new FederationClient(options, key);
            StatusResponse status;
            try
            {
                status = await client.GetStatusAsync(cancellationToken);
            }
            catch (RpcException ex)
            {
                throw new CliException($"could not get the status of {address}: {ex.StatusCode}: {ex.Status.Detail}");
            }

            foreach (string line in Format(status))
            {
                Console.Out.WriteLine(line);
            }

            return 0;
        });
        return command;
    }

    /// <summary>The lines <c>confide status</c> prints for <paramref name="status"/>.</summary>
    internal static IReadOnlyList<string> Format(StatusResponse status)
    {
        var c = CultureInfo.InvariantCulture;
        var lines = new List<string>
        {
            string.Create(c, $"round {status.Round} ({status.Stage}); {status.CompletedRounds} of {status.TotalRounds} rounds completed{(status.FailedRounds > 0 ? $" ({status.FailedRounds} failed: the model did not change)" : "")}"),
            string.Create(c, $"clients: {status.EnrolledClients} enrolled, {status.ConnectedClients} connected, {status.Participants} in the current round, {status.AcceptedUpdates} updates accepted"),
        };
        if (status.Delta > 0)
        {
            lines.Add(string.Create(c, $"privacy: ε spent {status.EpsilonSpent:G4} of {status.MaxEpsilon:G4} at δ = {status.Delta:G3}"));
        }

        if (status.SecaggStage.Length > 0)
        {
            string deadline = status.SecaggStageDeadlineUnixMs > 0
                ? string.Create(c, $", closes by {DateTimeOffset.FromUnixTimeMilliseconds(status.SecaggStageDeadlineUnixMs):yyyy-MM-dd HH:mm:ss} UTC")
                : "";
            string counts = status.SecaggStage == "reconstructing"
                ? string.Create(c, $"{status.SecaggReceived} of {status.SecaggExpected} unmasking responses received")
                : string.Create(c, $"{status.SecaggReceived} of {status.SecaggExpected} messages received");
            lines.Add($"secure aggregation: stage {status.SecaggStage}, {counts}{deadline}");
        }

        if (status.StopReason.Length > 0)
        {
            lines.Add($"stopped: {status.StopReason}");
        }

        return lines;
    }
}
