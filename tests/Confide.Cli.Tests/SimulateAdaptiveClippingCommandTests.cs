using System.Text.Json;

namespace Confide.Cli.Tests;

/// <summary><c>confide simulate --dp-adaptive-quantile</c>: adaptive clipping under central DP.</summary>
public sealed class SimulateAdaptiveClippingCommandTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Adaptive_clipping_reports_the_moving_clip_norm_and_charges_the_same_epsilon_as_a_fixed_one(bool secure)
    {
        string[] common = ["simulate", "--rounds", "1", "--clients", "8", "--local-epochs", "1", "--seed", "3", "--dp-noise", "1", "--clip", "1000", "--json",
            secure ? "--secure-agg" : "--no-secure-agg"];
        var adaptive = CliRunner.Run([.. common, "--dp-adaptive-quantile", "0.5", "--dp-count-noise", "1", "--dp-adaptive-lr", "0.5"]);
        Assert.True(adaptive.ExitCode == 0, adaptive.StdErr);
        using var doc = JsonDocument.Parse(adaptive.StdOut);
        var root = doc.RootElement;
        Assert.Equal(0.5, root.GetProperty("adaptive_quantile").GetDouble());
        Assert.Equal(0.5, root.GetProperty("adaptive_lr").GetDouble());
        Assert.Equal(1.0, root.GetProperty("count_noise").GetDouble());
        Assert.Equal("client", root.GetProperty("clipping").GetString());
        Assert.Equal(1000, root.GetProperty("clip_norm").GetDouble());
        // One round from the initial model: every update norm is far below 1000, so b̄ ≈ 1 (± σ_b/m = 0.125) and C
        // shrank by about exp(−η(1 − γ)) = exp(−0.25). (Later rounds need not: noise of z·C on a sum with C = 1000
        // wrecks the model, and its next updates can be larger than C.)
        Assert.InRange(root.GetProperty("final_clip_norm").GetDouble(), 1000 * Math.Exp(-0.5), 1000 * Math.Exp(-0.1));

        var fixedClip = CliRunner.Run(common);
        Assert.True(fixedClip.ExitCode == 0, fixedClip.StdErr);
        using var fixedDoc = JsonDocument.Parse(fixedClip.StdOut);
        Assert.Equal(fixedDoc.RootElement.GetProperty("epsilon").GetDouble(), root.GetProperty("epsilon").GetDouble());
        Assert.False(fixedDoc.RootElement.TryGetProperty("final_clip_norm", out _));
    }

    [Theory]
    [InlineData(new[] { "--dp-adaptive-quantile", "0.5", "--dp-mode", "distributed" }, "not combined with --dp-mode distributed")]
    [InlineData(new[] { "--dp-adaptive-quantile", "0.5", "--no-dp" }, "needs DP on")]
    [InlineData(new[] { "--dp-adaptive-quantile", "1.5", "--dp-noise", "1", "--dp-count-noise", "1" }, "target quantile")]
    [InlineData(new[] { "--dp-adaptive-quantile", "0.5", "--dp-noise", "1", "--dp-count-noise", "0.1" }, "needs 2σ_b > z")]
    [InlineData(new[] { "--dp-count-noise", "1" }, "apply to adaptive clipping only")]
    [InlineData(new[] { "--dp-server-clip", "--secure-agg" }, "cannot be combined with --secure-agg")]
    [InlineData(new[] { "--dp-server-clip", "--no-dp" }, "needs central DP without secure aggregation")]
    public void Bad_adaptive_clipping_options_give_a_one_line_error(string[] extra, string expected)
    {
        var run = CliRunner.Run(["simulate", "--rounds", "1", "--clients", "4", .. extra]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.StartsWith("confide: error: ", run.StdErr, StringComparison.Ordinal);
        Assert.Contains(expected, run.StdErr, StringComparison.Ordinal);
        Assert.Single(run.StdErr.Trim().Split('\n'));
    }
}
