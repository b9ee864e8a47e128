using System.Globalization;
using System.Text.Json;

namespace Confide.Cli.Tests;

public sealed class PrivacyDistributedCommandTests
{
    [Fact]
    public void CalibratedSigmaSpendsTheTargetAndMatchesTheCentralMultiplierWhenTauVanishes()
    {
        // The default simulate job: 100 clients, all in every round, 20 rounds, C = 1, s = 2^22, d = 4810.
        var run = CliRunner.Run("privacy", "distributed", "--target-epsilon", "8", "--steps", "20", "--min-survivors", "100",
            "--scale", "4194304", "--dim", "4810", "--beta", "0.6065306597126334", "--json");
        Assert.True(run.ExitCode == 0, run.StdErr);
        using var doc = JsonDocument.Parse(run.StdOut);
        var root = doc.RootElement;
        Assert.InRange(root.GetProperty("epsilon").GetDouble(), 8 - 1e-5, 8);
        Assert.Equal(0, root.GetProperty("tau").GetDouble());

        var central = CliRunner.Run("privacy", "noise", "--target-epsilon", "8", "--delta", "1e-5", "--sample-rate", "1", "--steps", "20", "--json");
        using var centralDoc = JsonDocument.Parse(central.StdOut);
        Assert.Equal(centralDoc.RootElement.GetProperty("noise_multiplier").GetDouble(), root.GetProperty("effective_noise_multiplier").GetDouble(), 5);
    }

    [Fact]
    public void GivenSigmaReportsItsEpsilon()
    {
        var run = CliRunner.Run("privacy", "distributed", "--client-sigma", "3", "--steps", "10", "--min-survivors", "4", "--scale", "4", "--dim", "16", "--sample-rate", "0.5");
        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Contains("client_sigma: 3", run.StdOut, StringComparison.Ordinal);
        // c·s + √d = 4 + 4 = 8 quanta (β = 0).
        Assert.Contains("l2_sensitivity: 8", run.StdOut, StringComparison.Ordinal);
        string epsilonLine = run.StdOut.Split('\n').Single(l => l.StartsWith("epsilon: ", StringComparison.Ordinal));
        Assert.True(double.Parse(epsilonLine["epsilon: ".Length..], CultureInfo.InvariantCulture) > 0);
    }

    [Theory]
    [InlineData(new[] { "--steps", "10", "--min-survivors", "4", "--scale", "4", "--dim", "16" }, "exactly one of --target-epsilon")]
    [InlineData(new[] { "--client-sigma", "3", "--target-epsilon", "2", "--steps", "10", "--min-survivors", "4", "--scale", "4", "--dim", "16" }, "exactly one of --target-epsilon")]
    [InlineData(new[] { "--client-sigma", "3", "--steps", "10", "--min-survivors", "0", "--scale", "4", "--dim", "16" }, "--min-survivors must be a whole number")]
    [InlineData(new[] { "--client-sigma", "3", "--steps", "10", "--min-survivors", "4", "--dim", "16" }, "--scale is required")]
    [InlineData(new[] { "--client-sigma", "3", "--steps", "10", "--min-survivors", "4", "--scale", "4", "--dim", "16", "--beta", "1" }, "β must lie in [0, 1)")]
    [InlineData(new[] { "--client-sigma", "-1", "--steps", "10", "--min-survivors", "4", "--scale", "4", "--dim", "16" }, "σ must be a positive finite number")]
    public void BadInputGivesOneLine(string[] extra, string expected)
    {
        var run = CliRunner.Run(["privacy", "distributed", .. extra]);
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("confide: error: ", run.StdErr, StringComparison.Ordinal);
        Assert.Contains(expected, run.StdErr, StringComparison.Ordinal);
        Assert.Single(run.StdErr.Trim().Split('\n'));
    }
}
