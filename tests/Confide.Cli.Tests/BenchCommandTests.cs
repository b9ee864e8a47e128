using System.Text.Json;

namespace Confide.Cli.Tests;

public sealed class BenchCommandTests
{
    [Fact]
    public void JsonHasTheDocumentedShape()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "aggregators", "--clients", "7", "--dim", "50", "--byzantine", "1", "--runs", "2", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(7, root.GetProperty("clients").GetInt32());
        Assert.Equal(50, root.GetProperty("dim").GetInt32());
        Assert.Equal(2, root.GetProperty("runs").GetInt32());
        Assert.Equal(1, root.GetProperty("byzantine").GetInt32());
        var methods = root.GetProperty("methods");
        var names = methods.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["fedavg", "median", "trimmed-mean", "krum", "multi-krum", "bulyan", "fltrust", "geometric-median", "norm-bound"], names);
        Assert.Empty(root.GetProperty("skipped").EnumerateObject());
        Assert.All(methods.EnumerateObject(), p => Assert.True(p.Value.GetDouble() >= 0, $"{p.Name}: {p.Value}"));
    }

    [Fact]
    public void MethodsCanBeChosen()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "aggregators", "--clients", "3", "--dim", "10", "--runs", "1", "--byzantine", "0", "--methods", "median,fedavg", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(["median", "fedavg"], json.RootElement.GetProperty("methods").EnumerateObject().Select(p => p.Name).ToArray());
    }

    [Fact]
    public void TableNamesEachMethod()
    {
        var (code, stdout, _) = CliRunner.Run("bench", "aggregators", "--clients", "3", "--dim", "10", "--runs", "1", "--byzantine", "0");
        Assert.Equal(0, code);
        Assert.Contains("3 clients × 10 float32", stdout, StringComparison.Ordinal);
        Assert.Contains("trimmed-mean", stdout, StringComparison.Ordinal);
        Assert.Contains(" ms", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--clients", "0", "--clients 0: expected at least 1.")]
    [InlineData("--dim", "0", "--dim 0: expected at least 1.")]
    [InlineData("--runs", "0", "--runs 0: expected at least 1.")]
    [InlineData("--byzantine", "-1", "--byzantine -1: expected 0 or more.")]
    [InlineData("--methods", "krum2", "unknown method 'krum2'")]
    public void BadOptionsGiveOneLineErrors(string option, string value, string expected)
    {
        string[] args = option == "--dim" ? ["bench", "aggregators", option, value] : ["bench", "aggregators", "--dim", "10", option, value];
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.StartsWith("confide: error: ", stderr, StringComparison.Ordinal);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void SizesThatCannotFitInMemoryAreRefused()
    {
        var (code, _, stderr) = CliRunner.Run("bench", "aggregators", "--clients", "1000000", "--dim", "1000000000");
        Assert.Equal(2, code);
        Assert.Contains("needs 4000000.0 GB for the updates", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void TooManyByzantineClientsForAMethodIsAnError()
    {
        // Trimming f = 3 per side of 5 clients is β = 0.6, beyond 0.5.
        var (code, _, stderr) = CliRunner.Run("bench", "aggregators", "--clients", "5", "--dim", "10", "--byzantine", "3", "--methods", "fedavg,trimmed-mean");
        Assert.Equal(2, code);
        Assert.Contains("trimmed-mean cannot run with --clients 5 --byzantine 3", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void DefaultListSkipsMethodsWhosePreconditionFailsAndSaysWhy()
    {
        // n = 5, f = 1: Krum needs n > 2f + 2 = 4 (runs), Bulyan needs n ≥ 4f + 3 = 7 (skipped).
        var (code, stdout, stderr) = CliRunner.Run("bench", "aggregators", "--clients", "5", "--dim", "10", "--byzantine", "1", "--runs", "1", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.True(json.RootElement.GetProperty("methods").TryGetProperty("krum", out _));
        Assert.False(json.RootElement.GetProperty("methods").TryGetProperty("bulyan", out _));
        Assert.Contains("4f + 3", json.RootElement.GetProperty("skipped").GetProperty("bulyan").GetString(), StringComparison.Ordinal);
    }
}
