namespace Confide.Cli.Tests;

/// <summary><c>confide server --dp-mode</c>: the combinations that cannot work get one line saying why.</summary>
public sealed class ServerDistributedDpTests
{
    [Theory]
    [InlineData("needs --secure-agg", "--dp-mode", "distributed")]
    [InlineData("cannot be combined with --dp-adaptive-quantile", "--dp-mode", "distributed", "--secure-agg", "--dp-adaptive-quantile", "0.5")]
    [InlineData("--dp-mode must be central or distributed; got 'local'", "--dp-mode", "local")]
    [InlineData("applies to --dp-mode distributed only", "--dp-min-survivors", "3")]
    [InlineData("--dp-min-survivors 5 is out of range", "--dp-mode", "distributed", "--secure-agg", "--dp-min-survivors", "5")]
    [InlineData("--dp-min-survivors 1 is out of range", "--dp-mode", "distributed", "--secure-agg", "--dp-min-survivors", "1")]
    [InlineData("DP needs --population", "--dp-mode", "distributed", "--secure-agg")]
    public void Server_refuses_distributed_dp_settings_that_cannot_work(string expected, params string[] extra)
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-cli-ddp-" + Guid.NewGuid().ToString("N"));
        string[] population = expected.StartsWith("DP needs", StringComparison.Ordinal) ? [] : ["--population", "40"];
        try
        {
            var (code, stdout, stderr) = CliRunner.Run(["server", "--state", dir, "--insecure", "--port", "0", "--rounds", "1", "--clients-per-round", "4", .. population, .. extra]);
            Assert.Equal(2, code);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.StartsWith("confide: error: ", stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Help_describes_the_dp_mode_and_the_client_noise_floor()
    {
        var (code, stdout, _) = CliRunner.Run("server", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--dp-mode", stdout, StringComparison.Ordinal);
        Assert.Contains("--dp-min-survivors", stdout, StringComparison.Ordinal);
        var (clientCode, clientHelp, _) = CliRunner.Run("client", "--help");
        Assert.Equal(0, clientCode);
        Assert.Contains("--dp-min-noise", clientHelp, StringComparison.Ordinal);
    }
}
