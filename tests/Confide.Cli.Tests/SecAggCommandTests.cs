using System.Text.Json;

namespace Confide.Cli.Tests;

public sealed class SecAggCommandTests
{
    [Fact]
    public void BenchJsonReportsACorrectRound()
    {
        var (code, stdout, stderr) = CliRunner.Run("secagg", "bench", "--clients", "8", "--dim", "64", "--dropout", "0.25", "--seed", "5", "--json");
        Assert.True(code == 0, stderr + stdout);
        using var doc = JsonDocument.Parse(stdout);
        JsonElement root = doc.RootElement;
        Assert.True(root.GetProperty("correct").GetBoolean());
        Assert.True(root.GetProperty("client_ms").GetDouble() >= 0);
        Assert.True(root.GetProperty("client_wall_ms").GetDouble() > 0);
        Assert.True(root.GetProperty("server_ms").GetDouble() > 0);
        Assert.True(root.GetProperty("bytes_per_client").GetDouble() > 64 * 4);
        Assert.Equal(5, root.GetProperty("server_stage_ms").EnumerateObject().Count());
        Assert.True(root.GetProperty("clients_one_at_a_time").GetBoolean());
        // Every client acts in each of the five stages (the dropped ones in the first two), so each stage has a figure.
        Assert.Equal(5, root.GetProperty("client_stage_cpu_ms").EnumerateObject().Count());
        Assert.Equal(5, root.GetProperty("client_stage_wall_ms").EnumerateObject().Count());
        double stageWall = root.GetProperty("client_stage_wall_ms").EnumerateObject().Sum(e => e.Value.GetDouble());
        Assert.True(stageWall > 0);
    }

    [Fact]
    public void BenchCanRunClientsConcurrently()
    {
        var (code, stdout, stderr) = CliRunner.Run("secagg", "bench", "--clients", "6", "--dim", "32", "--seed", "2", "--concurrent-clients", "--json");
        Assert.True(code == 0, stderr + stdout);
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("correct").GetBoolean());
        Assert.False(doc.RootElement.GetProperty("clients_one_at_a_time").GetBoolean());
    }

    [Fact]
    public void BenchTextWithSecAggPlusNeighbourhoods()
    {
        var (code, stdout, stderr) = CliRunner.Run("secagg", "bench", "--clients", "12", "--dim", "16", "--neighbours", "6", "--seed", "3");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("SecAgg+", stdout, StringComparison.Ordinal);
        Assert.Contains("sum correct: yes", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchRejectsBadParametersWithOneLine()
    {
        var (code, _, stderr) = CliRunner.Run("secagg", "bench", "--clients", "5", "--neighbours", "9");
        Assert.NotEqual(0, code);
        Assert.StartsWith("confide: error:", stderr, StringComparison.Ordinal);

        (code, _, stderr) = CliRunner.Run("secagg", "bench", "--clients", "5", "--dropout", "1.5");
        Assert.NotEqual(0, code);
        Assert.Contains("--dropout", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500, 18, 0.0, 10)]
    [InlineData(500, 18, 0.3, 4)]
    [InlineData(500, 499, 0.3, 250)]
    public void DefaultThresholdKeepsTheAbortProbabilityAtOnePercent(int n, int k, double p, int expected)
    {
        Assert.Equal(expected, Confide.Cli.Commands.SecAggCommand.DefaultThreshold(n, k, p));
    }

    [Fact]
    public void BenchReportsAnAbortedRoundAsIncorrect()
    {
        // Full graph of 10 with t = 9: 30 % dropout leaves 7 survivors, fewer than t.
        var (code, stdout, _) = CliRunner.Run("secagg", "bench", "--clients", "10", "--dim", "8", "--threshold", "9", "--dropout", "0.3", "--seed", "1", "--json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.False(doc.RootElement.GetProperty("correct").GetBoolean());
        Assert.Contains("MaskedInputCollection", doc.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
