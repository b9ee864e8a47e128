using System.Text.Json;

namespace Confide.Cli.Tests;

public sealed class SimulateCommandTests
{
    [Fact]
    public void JsonSummaryHasFinalAccuracyAboveChanceAndRepeatsForASeed()
    {
        var first = CliRunner.Run("simulate", "--rounds", "3", "--clients", "5", "--seed", "9", "--no-dp", "--no-secure-agg", "--json");
        Assert.True(first.ExitCode == 0, first.StdErr);
        using var doc = JsonDocument.Parse(first.StdOut);
        double accuracy = doc.RootElement.GetProperty("final_accuracy").GetDouble();
        Assert.True(accuracy > 0.5, $"final accuracy {accuracy}");
        var second = CliRunner.Run("simulate", "--rounds", "3", "--clients", "5", "--seed", "9", "--no-dp", "--no-secure-agg", "--json");
        using var doc2 = JsonDocument.Parse(second.StdOut);
        Assert.Equal(accuracy, doc2.RootElement.GetProperty("final_accuracy").GetDouble());
    }

    [Fact]
    public void ASweepPrintsOneJsonRowPerAttackAndAggregator()
    {
        var run = CliRunner.Run("simulate", "--rounds", "2", "--clients", "10", "--malicious", "2", "--sweep-attacks", "none,sign-flip",
            "--sweep-aggregators", "fedavg,median", "--json");
        Assert.True(run.ExitCode == 0, run.StdErr);
        using var doc = JsonDocument.Parse(run.StdOut);
        var rows = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(4, rows.Count);
        Assert.Equal(["none/fedavg", "none/median", "sign-flip/fedavg", "sign-flip/median"],
            rows.Select(r => $"{r.GetProperty("attack").GetString()}/{r.GetProperty("aggregator").GetString()}").Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.InRange(r.GetProperty("final_accuracy").GetDouble(), 0, 1));
    }

    [Fact]
    public void DefaultRunHasSecureAggregationAndDpOnAndLearns()
    {
        // The README's main job, shortened to 4 rounds: 100 clients, SecAgg+ and DP-FedAvg at ε = 8 over the run.
        var run = CliRunner.Run("simulate", "--rounds", "4", "--json");
        Assert.True(run.ExitCode == 0, run.StdErr);
        using var doc = JsonDocument.Parse(run.StdOut);
        Assert.Equal("dp-fedavg", doc.RootElement.GetProperty("aggregator").GetString());
        Assert.True(doc.RootElement.GetProperty("secure_aggregation").GetBoolean());
        Assert.InRange(doc.RootElement.GetProperty("epsilon").GetDouble(), 7.5, 8.0 + 1e-6);
        double accuracy = doc.RootElement.GetProperty("final_accuracy").GetDouble();
        Assert.True(accuracy > 0.25, $"final accuracy {accuracy} is not clearly above chance (0.1)");
    }

    [Theory]
    [InlineData("--no-dp", "--dp-epsilon", "2")]
    [InlineData("--no-secure-agg", "--secure-agg", "")]
    public void ContradictoryPrivacySwitchesAreRefused(string first, string second, string value)
    {
        var args = new List<string> { "simulate", first, second };
        if (value.Length > 0)
        {
            args.Add(value);
        }

        var run = CliRunner.Run([.. args]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("cannot be combined", run.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public void SecureAggregationWithDpReportsEpsilonWithinTheTarget()
    {
        var run = CliRunner.Run("simulate", "--rounds", "2", "--clients", "4", "--secure-agg", "--dp-epsilon", "5", "--clip", "2", "--json");
        Assert.True(run.ExitCode == 0, run.StdErr);
        using var doc = JsonDocument.Parse(run.StdOut);
        double epsilon = doc.RootElement.GetProperty("epsilon").GetDouble();
        Assert.InRange(epsilon, 4.5, 5.0 + 1e-6);
        Assert.Equal("dp-fedavg", doc.RootElement.GetProperty("aggregator").GetString());
    }

    [Fact]
    public void DistributedDpChargesEpsilonLearnsAndRepeatsForASeed()
    {
        string[] args = ["simulate", "--rounds", "3", "--clients", "20", "--seed", "4", "--dp-mode", "distributed", "--json"];
        var first = CliRunner.Run(args);
        Assert.True(first.ExitCode == 0, first.StdErr);
        using var doc = JsonDocument.Parse(first.StdOut);
        var root = doc.RootElement;
        Assert.Equal("distributed", root.GetProperty("dp_mode").GetString());
        Assert.Equal("distributed-dp-fedavg", root.GetProperty("aggregator").GetString());
        Assert.True(root.GetProperty("secure_aggregation").GetBoolean());
        Assert.InRange(root.GetProperty("epsilon").GetDouble(), 7.9, 8.0 + 1e-6);
        Assert.Equal(20, root.GetProperty("min_survivors").GetInt32());
        Assert.True(root.GetProperty("client_sigma_quanta").GetDouble() > 1);
        var perRound = root.GetProperty("rounds_detail").EnumerateArray().Select(r => r.GetProperty("epsilon").GetDouble()).ToArray();
        Assert.Equal(3, perRound.Length);
        Assert.True(perRound[0] > 0 && perRound[0] < perRound[1] && perRound[1] < perRound[2]);
        double accuracy = root.GetProperty("final_accuracy").GetDouble();
        Assert.True(accuracy > 0.25, $"final accuracy {accuracy} is not clearly above chance (0.1)");

        var second = CliRunner.Run(args);
        using var doc2 = JsonDocument.Parse(second.StdOut);
        Assert.Equal(accuracy, doc2.RootElement.GetProperty("final_accuracy").GetDouble());
        Assert.Equal(root.GetProperty("final_loss").GetDouble(), doc2.RootElement.GetProperty("final_loss").GetDouble());
    }

    [Theory]
    [InlineData(new[] { "--dp-mode", "distributed", "--no-secure-agg" }, "cannot be combined with --no-secure-agg")]
    [InlineData(new[] { "--dp-mode", "distributed", "--aggregator", "median" }, "needs DP on")]
    [InlineData(new[] { "--dp-mode", "distributed", "--no-dp" }, "cannot be combined with --no-dp")]
    [InlineData(new[] { "--dp-mode", "local" }, "expected central or distributed")]
    [InlineData(new[] { "--dp-min-survivors", "5" }, "applies to --dp-mode distributed only")]
    [InlineData(new[] { "--dp-mode", "distributed", "--clients", "10", "--dp-min-survivors", "11" }, "--dp-min-survivors 11 is out of range")]
    public void BadDistributedDpOptionsGiveAOneLineError(string[] extra, string expected)
    {
        var run = CliRunner.Run(["simulate", "--rounds", "1", .. extra]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.StartsWith("confide: error: ", run.StdErr, StringComparison.Ordinal);
        Assert.Contains(expected, run.StdErr, StringComparison.Ordinal);
        Assert.Single(run.StdErr.Trim().Split('\n'));
    }

    [Fact]
    public void TablePrintsAndFilesAreWritten()
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var run = CliRunner.Run("simulate", "--rounds", "2", "--clients", "4", "--out", dir);
            Assert.True(run.ExitCode == 0, run.StdErr);
            Assert.Contains("final accuracy", run.StdOut, StringComparison.Ordinal);
            Assert.Contains("round   2/2", run.StdOut, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(dir, "metrics.csv")));
            Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
            var png = File.ReadAllBytes(Path.Combine(dir, "accuracy.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData(new[] { "--clients", "10", "--aggregator", "krum", "--byzantine", "4" }, "Krum needs n > 2f + 2")]
    [InlineData(new[] { "--partition", "dirichlet:-2" }, "Dirichlet")]
    [InlineData(new[] { "--attack", "nonsense", "--malicious", "1" }, "Unknown attack")]
    [InlineData(new[] { "--fraction", "1.5" }, "--fraction")]
    [InlineData(new[] { "--lr", "0" }, "--lr")]
    [InlineData(new[] { "--dataset", "fashion-mnist", "--data-dir", "/nonexistent-confide-dir" }, "apt-get install dataset-fashion-mnist")]
    public void BadOptionsGiveAOneLineError(string[] extra, string expected)
    {
        var run = CliRunner.Run(["simulate", "--rounds", "1", .. extra]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.StartsWith("confide: error: ", run.StdErr, StringComparison.Ordinal);
        Assert.Contains(expected, run.StdErr, StringComparison.Ordinal);
        Assert.Single(run.StdErr.Trim().Split('\n'));
    }
}
