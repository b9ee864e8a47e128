using System.Globalization;
using System.Text.Json;

namespace Confide.Cli.Tests;

public sealed class PrivacyCommandTests
{
    [Fact]
    public void EpsilonReproducesTheOpacusKnownAnswer()
    {
        var (code, stdout, stderr) = CliRunner.Run("privacy", "epsilon", "--sample-rate", "0.04", "--noise-multiplier", "1.5", "--steps", "2250", "--delta", "1e-5", "--json");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr);
        using var doc = JsonDocument.Parse(stdout);
        double eps = doc.RootElement.GetProperty("epsilon").GetDouble();
        Assert.True(Math.Abs(eps - 7.32911117143) / 7.32911117143 < 1e-6, $"ε = {eps}");
        Assert.Equal(3.9, doc.RootElement.GetProperty("order").GetDouble(), 12);
    }

    [Fact]
    public void EpsilonPrintsTextByDefault()
    {
        var (code, stdout, _) = CliRunner.Run("privacy", "epsilon", "--sample-rate", "0.04", "--noise-multiplier", "1.5", "--steps", "2250", "--delta", "1e-5");
        Assert.Equal(0, code);
        Assert.Contains("epsilon: 7.32911117", stdout, StringComparison.Ordinal);
        Assert.Contains("order: 3.9", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void EpsilonWithNoStepsIsZeroWithNoOrder()
    {
        var (code, stdout, _) = CliRunner.Run("privacy", "epsilon", "--sample-rate", "0.04", "--noise-multiplier", "1.5", "--steps", "0", "--delta", "1e-5", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(0, doc.RootElement.GetProperty("epsilon").GetDouble());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("order").ValueKind);
    }

    [Fact]
    public void NoiseInvertsEpsilon()
    {
        var (code, stdout, _) = CliRunner.Run("privacy", "noise", "--target-epsilon", "7.32911117143", "--delta", "1e-5", "--sample-rate", "0.04", "--steps", "2250", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.InRange(doc.RootElement.GetProperty("noise_multiplier").GetDouble(), 1.5 - 1e-5, 1.5 + 1e-5);

        var (code2, text, _) = CliRunner.Run("privacy", "noise", "--target-epsilon", "2", "--delta", "1e-5", "--sample-rate", "0.01", "--steps", "1000");
        Assert.Equal(0, code2);
        Assert.StartsWith("noise_multiplier: ", text, StringComparison.Ordinal);
        double sigma = double.Parse(text["noise_multiplier: ".Length..].Trim(), CultureInfo.InvariantCulture);
        var (_, check, _) = CliRunner.Run("privacy", "epsilon", "--sample-rate", "0.01", "--noise-multiplier", sigma.ToString("R", CultureInfo.InvariantCulture), "--steps", "1000", "--delta", "1e-5", "--json");
        using var doc2 = JsonDocument.Parse(check);
        Assert.True(doc2.RootElement.GetProperty("epsilon").GetDouble() <= 2);
    }

    [Theory]
    [InlineData("--sample-rate", "1.5", "--sample-rate must lie in [0, 1]")]
    [InlineData("--sample-rate", "-0.1", "--sample-rate must lie in [0, 1]")]
    [InlineData("--noise-multiplier", "0", "--noise-multiplier (σ) must be greater than 0")]
    [InlineData("--noise-multiplier", "-2", "--noise-multiplier (σ) must be greater than 0")]
    [InlineData("--delta", "0", "--delta must lie in (0, 1)")]
    [InlineData("--delta", "1", "--delta must lie in (0, 1)")]
    [InlineData("--steps", "-3", "--steps must not be negative")]
    [InlineData("--steps", "2.5", "--steps must be a whole number")]
    [InlineData("--sample-rate", "abc", "--sample-rate must be a number")]
    [InlineData("--noise-multiplier", "NaN", "--noise-multiplier must be a number")]
    public void EpsilonRejectsBadInputWithOneLine(string option, string value, string message)
    {
        var args = new Dictionary<string, string>
        {
            ["--sample-rate"] = "0.04",
            ["--noise-multiplier"] = "1.5",
            ["--steps"] = "100",
            ["--delta"] = "1e-5",
        };
        args[option] = value;
        var (code, stdout, stderr) = CliRunner.Run(["privacy", "epsilon", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);
        AssertOneLineError(code, stdout, stderr, message);
    }

    [Theory]
    [InlineData("--target-epsilon", "0", "--target-epsilon (ε) must be greater than 0")]
    [InlineData("--target-epsilon", "x", "--target-epsilon must be a number")]
    [InlineData("--sample-rate", "2", "--sample-rate must lie in [0, 1]")]
    [InlineData("--sample-rate", "0", "--sample-rate 0 releases nothing")]
    [InlineData("--delta", "-1e-5", "--delta must lie in (0, 1)")]
    [InlineData("--steps", "-1", "--steps must not be negative")]
    [InlineData("--steps", "0", "--steps 0 releases nothing")]
    [InlineData("--target-epsilon", "0.01", "Raise ε or δ")]
    public void NoiseRejectsBadInputWithOneLine(string option, string value, string message)
    {
        var args = new Dictionary<string, string>
        {
            ["--target-epsilon"] = "3",
            ["--delta"] = "1e-5",
            ["--sample-rate"] = "0.04",
            ["--steps"] = "100",
        };
        args[option] = value;
        var (code, stdout, stderr) = CliRunner.Run(["privacy", "noise", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);
        AssertOneLineError(code, stdout, stderr, message);
    }

    [Fact]
    public void MissingOptionIsOneLine()
    {
        var (code, stdout, stderr) = CliRunner.Run("privacy", "epsilon", "--sample-rate", "0.04", "--steps", "10", "--delta", "1e-5");
        AssertOneLineError(code, stdout, stderr, "--noise-multiplier is required");
    }

    private static void AssertOneLineError(int code, string stdout, string stderr, string message)
    {
        Assert.NotEqual(0, code);
        Assert.Equal(string.Empty, stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("confide: error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }
}
