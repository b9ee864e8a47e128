using System.Globalization;
using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Wire.V1;

namespace Confide.Cli.Tests;

/// <summary><c>confide server --max-sample-count</c>: refused out of range, and carried into the task and the SecAgg quantizer.</summary>
public sealed class ServerSampleCountCommandTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("9007199254740993")] // 2^53 + 1: a FedAvg weight must be exact as a double
    public void An_out_of_range_bound_is_refused_with_the_reason(string value)
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-samples-bad-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, stderr) = CliRunner.Run("server", "--state", dir, "--insecure", "--port", "0", "--rounds", "1", "--max-sample-count", value);
            Assert.NotEqual(0, code);
            Assert.Contains("The largest sample count", stderr);
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
    public async Task The_bound_reaches_the_task_and_a_lower_one_gives_secure_aggregation_a_finer_scale()
    {
        const int clients = 3;
        const long bound = 50;
        string state = Path.Combine(Path.GetTempPath(), "confide-samples-" + Guid.NewGuid().ToString("N"));
        int port = Confide.Testing.LoopbackPort.Free();
        var keys = new List<IdentityKeyPair>();
        var connections = new List<FederationClient>();
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("admin", "token", "--state", state, "--count", $"{clients}");
            Assert.True(code == 0, stderr);
            string[] tokens = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

            // One secure round that nobody completes: it fails at its 3 s AdvertiseKeys deadline and the server stops.
            var server = Task.Run(() => CliRunner.Run(
                "server", "--state", state, "--insecure", "--listen", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
                "--rounds", "1", "--clients-per-round", $"{clients}", "--deadline", "3", "--linger", "0", "--secure-agg",
                "--max-sample-count", $"{bound}", "--address-rate", "1000"));

            var options = new FederationClientOptions(new Uri($"http://127.0.0.1:{port}/"), null, insecure: true) { CallTimeout = TimeSpan.FromSeconds(10) };
            for (int i = 0; i < clients; i++)
            {
                var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(700 + i)));
                keys.Add(key);
                var client = new FederationClient(options, key);
                connections.Add(client);
                await LoopbackEnrollment.EnrollWhenListeningAsync(client, tokens[i], budget.Token);
                await client.FetchTaskAsync(-1, budget.Token); // marks it connected
            }

            RoundTask task;
            do
            {
                task = await connections[0].FetchTaskAsync(-1, TimeSpan.FromSeconds(2), budget.Token);
            }
            while (task.Kind != RoundTask.Types.Kind.Train);

            Assert.Equal(bound, task.MaxSampleCount);
            var setup = task.SecureAggregation;
            Assert.Equal(bound, setup.MaxWeight);

            // The largest power-of-two scale that keeps n·⌈w_max·c·s⌉ within 2^31 − 1 (k = 32): with w_max = 50 it
            // is 2^23; the default bound of 10^6 leaves 2^9.
            long half = (1L << (setup.ModulusBits - 1)) - 1;
            Assert.True(setup.MaxClients * Math.Ceiling(bound * setup.ClipRange * setup.Scale) <= half);
            Assert.True(setup.MaxClients * Math.Ceiling(bound * setup.ClipRange * setup.Scale * 2) > half);
            Assert.True(setup.Scale >= 1 << 20, $"scale {setup.Scale}");

            var (exit, _, serverErr) = await server.WaitAsync(budget.Token);
            Assert.True(exit == 0, serverErr);
        }
        finally
        {
            await budget.CancelAsync();
            connections.ForEach(c => c.Dispose());
            keys.ForEach(k => k.Dispose());
            try
            {
                Directory.Delete(state, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
