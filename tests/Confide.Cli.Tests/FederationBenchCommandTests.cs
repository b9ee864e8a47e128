using System.Text.Json;

namespace Confide.Cli.Tests;

public sealed class FederationBenchCommandTests
{
    [Fact]
    public void A_tiny_round_reports_its_figures_and_both_raw_floors()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "federation", "--clients", "2", "--params", "1000", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(2, root.GetProperty("accepted_updates").GetInt32());
        Assert.Equal("tls", root.GetProperty("transport").GetString());
        Assert.Equal("jit", root.GetProperty("runtime").GetString()); // the tests run on the JIT; a native AOT build says "native-aot"

        // Two clients each download and upload one encoded 1000-float model (4000 bytes of data plus the header).
        long moved = root.GetProperty("bytes_moved").GetInt64();
        Assert.InRange(moved, 4 * 4000, 4 * 4200);
        double round = root.GetProperty("round_seconds").GetDouble();
        double rawTls = root.GetProperty("raw_tls_seconds").GetDouble();
        Assert.True(round > 0 && rawTls > 0 && root.GetProperty("raw_tcp_seconds").GetDouble() > 0);
        Assert.Equal(round / rawTls, root.GetProperty("ratio_to_raw").GetDouble(), 6);

        // Each floor is the median of three transfers.
        double[] tlsRuns = [.. root.GetProperty("raw_tls_runs").EnumerateArray().Select(e => e.GetDouble()).Order()];
        Assert.Equal(3, tlsRuns.Length);
        Assert.Equal(tlsRuns[1], rawTls);
        Assert.Equal(3, root.GetProperty("raw_tcp_runs").GetArrayLength());

        // The server's phases were observed (the meter is process-wide, so other tests may add to the counts).
        var phases = root.GetProperty("phases");
        Assert.True(phases.GetProperty("confide.server.update.receive").GetProperty("count").GetInt64() >= 2);
        Assert.True(phases.GetProperty("confide.server.model.send").GetProperty("count").GetInt64() >= 2);
    }

    [Fact]
    public void Clients_in_child_processes_report_their_own_figures()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "federation", "--clients", "3", "--params", "500", "--client-processes", "2", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("accepted_updates").GetInt32());
        Assert.Equal(2, root.GetProperty("client_processes").GetInt32());
        Assert.True(root.GetProperty("client_cpu_seconds").GetDouble() > 0);
        Assert.True(root.GetProperty("client_peak_working_set_mb").GetDouble() > 0);

        // With client processes, the round-shaped floor is measured too: the median of three timed exchanges.
        double[] runs = [.. root.GetProperty("raw_round_runs").EnumerateArray().Select(e => e.GetDouble()).Order()];
        Assert.Equal(3, runs.Length);
        Assert.All(runs, r => Assert.True(r > 0));
        double floor = root.GetProperty("raw_round_seconds").GetDouble();
        Assert.Equal(runs[1], floor);
        Assert.Equal(root.GetProperty("round_seconds").GetDouble() / floor, root.GetProperty("ratio_to_raw_round").GetDouble(), 6);
    }

    [Fact]
    public void In_process_clients_have_no_round_shaped_floor()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "federation", "--clients", "2", "--params", "100", "--insecure", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("n/a", json.RootElement.GetProperty("raw_round_seconds").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("raw_round_runs").GetArrayLength());
    }

    [Theory]
    [InlineData("--connections 0 --port 1", "must be positive")]
    [InlineData("--connections 2 --port 70000", "--port must be in 1..65535")]
    [InlineData("--connections 2 --port 1 --fingerprint not-hex", "--fingerprint must be a SHA-256")]
    public void The_raw_peer_command_refuses_nonsense(string options, string expected)
    {
        var (code, _, stderr) = CliRunner.Run(["bench", "federation", "raw-peers", "--bytes", "10", "--repeats", "1", .. options.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--clients", "0")]
    [InlineData("--params", "0")]
    [InlineData("--rounds", "101")]
    [InlineData("--client-processes", "-1")]
    public void Out_of_range_settings_are_refused(string option, string value)
    {
        var (code, _, stderr) = CliRunner.Run("bench", "federation", option, value);
        Assert.Equal(2, code);
        Assert.Contains("--clients must be in", stderr, StringComparison.Ordinal);
    }
}
