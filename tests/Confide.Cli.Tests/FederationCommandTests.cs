namespace Confide.Cli.Tests;

public sealed class FederationCommandTests
{
    private static string TempDir() => Path.Combine(Path.GetTempPath(), "confide-cli-fed-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Admin_token_prints_distinct_one_time_tokens()
    {
        string dir = TempDir();
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("admin", "token", "--state", dir, "--count", "3");
            Assert.True(code == 0, stderr);
            var tokens = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(3, tokens.Length);
            Assert.Equal(3, tokens.Distinct().Count());
            Assert.All(tokens, t => Assert.Equal(43, t.Length));
            Assert.True(File.Exists(Path.Combine(dir, "state.db")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Admin_token_stores_the_ttl_with_the_token()
    {
        string dir = TempDir();
        try
        {
            var before = DateTimeOffset.UtcNow;
            var (code, stdout, stderr) = CliRunner.Run("admin", "token", "--state", dir, "--count", "2", "--ttl", "90m");
            Assert.True(code == 0, stderr);
            Assert.Contains("valid until", stderr);
            var tokens = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            using var store = Confide.Server.StateStore.Open(dir);
            byte[] Key(int i) => Confide.SecureAggregation.IdentityKeyPair.Generate(new Confide.Randomness.SeededRandomSource((ulong)i)).PublicKey.ToBytes();
            store.Enroll(tokens[0], Key(1), "a", before + TimeSpan.FromMinutes(89));
            var ex = Assert.Throws<Confide.Server.EnrollmentException>(() => store.Enroll(tokens[1], Key(2), "b", DateTimeOffset.UtcNow + TimeSpan.FromMinutes(90)));
            Assert.Contains("expired", ex.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0h")]
    [InlineData("12")]
    [InlineData("400d")]
    public void Admin_token_refuses_a_bad_ttl(string ttl)
    {
        string dir = TempDir();
        var (code, stdout, stderr) = CliRunner.Run("admin", "token", "--state", dir, "--ttl", ttl);
        Assert.Equal(2, code);
        Assert.Contains("--ttl", stderr);
        Assert.Equal("", stdout);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Admin_token_refuses_a_bad_count()
    {
        string dir = TempDir();
        var (code, _, stderr) = CliRunner.Run("admin", "token", "--state", dir, "--count", "0");
        Assert.Equal(2, code);
        Assert.Contains("--count must be between 1 and 10000", stderr);
    }

    [Fact]
    public void Server_refuses_a_bad_rate_limit()
    {
        string dir = TempDir();
        try
        {
            var (code, _, stderr) = CliRunner.Run("server", "--state", dir, "--insecure", "--port", "0", "--rounds", "1", "--client-rate", "0");
            Assert.Equal(2, code);
            Assert.Contains("Bad rate limit", stderr);
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
    [InlineData("Bad server optimiser", "--server-optimizer", "adamw")]
    [InlineData("needs a momentum", "--server-optimizer", "fedavgm")]
    [InlineData("takes no momentum", "--server-optimizer", "fedadam", "--server-momentum", "0.9")]
    [InlineData("needs DP-FedAvg", "--dp-adaptive-quantile", "0.5")]
    [InlineData("Bad adaptive clipping", "--dp-adaptive-quantile", "0.5", "--dp-noise", "1", "--population", "100", "--clients-per-round", "10", "--dp-client-clip", "--dp-count-noise", "0.4")]
    [InlineData("Bad adaptive clipping", "--dp-adaptive-quantile", "1.5", "--dp-noise", "1", "--population", "100", "--clients-per-round", "10")]
    public void Server_refuses_bad_optimizer_and_adaptive_clipping_settings(string message, params string[] extra)
    {
        string dir = TempDir();
        try
        {
            var (code, _, stderr) = CliRunner.Run(["server", "--state", dir, "--insecure", "--port", "0", "--rounds", "1", .. extra]);
            Assert.Equal(2, code);
            Assert.Contains(message, stderr);
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
    public void Server_refuses_adaptive_clipping_under_secure_aggregation_without_client_clipping_in_one_line()
    {
        string dir = TempDir();
        try
        {
            var (code, _, stderr) = CliRunner.Run(["server", "--state", dir, "--insecure", "--port", "0", "--rounds", "1", "--dp-adaptive-quantile", "0.5",
                "--dp-noise", "1", "--population", "100", "--clients-per-round", "10", "--dp-count-noise", "1", "--secure-agg"]);
            Assert.NotEqual(0, code);
            Assert.StartsWith("confide: error:", stderr, StringComparison.Ordinal);
            Assert.Contains("needs client-side clipping", stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
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
    public void Server_refuses_plaintext_off_loopback()
    {
        string dir = TempDir();
        try
        {
            var (code, _, stderr) = CliRunner.Run("server", "--state", dir, "--insecure", "--listen", "0.0.0.0", "--port", "0", "--rounds", "1");
            Assert.NotEqual(0, code);
            Assert.Contains("only on a loopback address", stderr);
            Assert.DoesNotContain("   at ", stderr);
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
    [InlineData("--aggregator", "krum", "needs each update")]
    [InlineData("--dp-noise", "1", "--dp-client-clip")]
    [InlineData("--max-update-norm", "2", "never sees an individual update")]
    public void Server_refuses_secure_aggregation_settings_that_cannot_work(string option, string value, string expected)
    {
        string dir = TempDir();
        try
        {
            var (code, _, stderr) = CliRunner.Run("server", "--state", dir, "--insecure", "--port", "0", "--rounds", "1", "--clients-per-round", "3",
                "--population", "10", "--byzantine", "0", "--secure-agg", option, value);
            Assert.NotEqual(0, code);
            Assert.Contains(expected, stderr);
            Assert.DoesNotContain("   at ", stderr);
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
    public void Server_refuses_neighbours_without_secure_aggregation()
    {
        var (code, _, stderr) = CliRunner.Run("server", "--state", TempDir(), "--insecure", "--port", "0", "--neighbours", "4");
        Assert.Equal(2, code);
        Assert.Contains("--neighbours needs --secure-agg", stderr);
    }

    [Fact]
    public void Client_without_enrollment_or_token_says_what_to_do()
    {
        string dir = TempDir();
        try
        {
            var (code, _, stderr) = CliRunner.Run("client", "--server", "http://127.0.0.1:1", "--insecure", "--key", Path.Combine(dir, "c.key"), "--shard", "0/2");
            Assert.Equal(2, code);
            Assert.Contains("pass --token", stderr);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "c.key")));
            }

            var (badShard, _, shardErr) = CliRunner.Run("client", "--server", "http://127.0.0.1:1", "--insecure", "--key", Path.Combine(dir, "c.key"), "--shard", "3/2");
            Assert.NotEqual(0, badShard);
            Assert.Contains("--shard", shardErr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
