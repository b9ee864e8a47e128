using Confide.Cli.Commands;
using Confide.Parameters;
using Confide.Protocol.Rounds;
using Confide.Server;
using Confide.Wire.V1;

namespace Confide.Cli.Tests;

public sealed class StatusCommandTests
{
    private static string TempDir() => Path.Combine(Path.GetTempPath(), "confide-cli-status-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void The_secagg_stage_its_counts_and_its_deadline_are_printed()
    {
        var status = new StatusResponse
        {
            Round = 4,
            CompletedRounds = 4,
            TotalRounds = 10,
            Stage = "collecting",
            EnrolledClients = 12,
            ConnectedClients = 11,
            Participants = 5,
            SecaggStage = "share-keys",
            SecaggReceived = 3,
            SecaggExpected = 5,
            SecaggStageDeadlineUnixMs = new DateTimeOffset(2026, 11, 25, 21, 40, 3, TimeSpan.Zero).ToUnixTimeMilliseconds(),
        };
        Assert.Equal(
            [
                "round 4 (collecting); 4 of 10 rounds completed",
                "clients: 12 enrolled, 11 connected, 5 in the current round, 0 updates accepted",
                "secure aggregation: stage share-keys, 3 of 5 messages received, closes by 2026-11-25 21:40:03 UTC",
            ],
            StatusCommand.Format(status));

        var reconstructing = status.Clone();
        reconstructing.SecaggStage = "reconstructing";
        reconstructing.SecaggStageDeadlineUnixMs = 0;
        Assert.Equal("secure aggregation: stage reconstructing, 3 of 5 unmasking responses received", StatusCommand.Format(reconstructing)[^1]);
    }

    [Fact]
    public void Without_secagg_or_dp_those_lines_are_left_out_and_a_stopped_run_says_why()
    {
        var status = new StatusResponse { Round = 2, CompletedRounds = 2, TotalRounds = 2, Stage = "finished", StopReason = "rounds-completed" };
        var lines = StatusCommand.Format(status);
        Assert.DoesNotContain(lines, l => l.StartsWith("secure aggregation", StringComparison.Ordinal) || l.StartsWith("privacy", StringComparison.Ordinal));
        Assert.Equal("stopped: rounds-completed", lines[^1]);

        status.FailedRounds = 1;
        Assert.Equal("round 2 (finished); 2 of 2 rounds completed (1 failed: the model did not change)", StatusCommand.Format(status)[0]);

        status.Delta = 1e-5;
        status.EpsilonSpent = 1.5;
        status.MaxEpsilon = 8;
        Assert.Contains("privacy: ε spent 1.5 of 8 at δ = 1E-05", StatusCommand.Format(status));
    }

    [Fact]
    public async Task Status_asks_a_running_server()
    {
        string dir = TempDir();
        var layout = ParameterLayout.Create(("w", [3]));
        var rounds = new RoundOptions(2, ClientSampling.OfCount(2), TimeSpan.FromSeconds(30), 2, new Aggregation.AggregatorSettings("fedavg"));
        var server = await ConfideServer.StartAsync(new ServerOptions(dir, rounds, ModelParameters.Zeros(layout)) { Port = 0 });
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("status", "--server", server.Address.ToString(), "--fingerprint", server.CertificateFingerprint!);
            Assert.True(code == 0, stderr);
            Assert.Equal(
                "round 0 (waiting-for-clients); 0 of 2 rounds completed\nclients: 0 enrolled, 0 connected, 0 in the current round, 0 updates accepted\n",
                stdout.ReplaceLineEndings("\n"));

            // The pin is checked: another fingerprint fails the call, on one line.
            var (bad, _, error) = CliRunner.Run("status", "--server", server.Address.ToString(), "--fingerprint", new string('0', 64));
            Assert.Equal(1, bad);
            Assert.StartsWith($"confide: error: could not get the status of {server.Address}", error, StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_unreachable_server_or_a_bad_timeout_is_a_one_line_error()
    {
        var (code, _, stderr) = CliRunner.Run("status", "--server", "http://127.0.0.1:1", "--insecure", "--timeout", "5");
        Assert.Equal(1, code);
        Assert.StartsWith("confide: error: could not get the status of http://127.0.0.1:1: Unavailable", stderr, StringComparison.Ordinal);
        var (usage, _, error) = CliRunner.Run("status", "--server", "http://127.0.0.1:1", "--insecure", "--timeout", "0");
        Assert.Equal(2, usage);
        Assert.Contains("--timeout must be between 1 and 3600", error, StringComparison.Ordinal);
    }
}
