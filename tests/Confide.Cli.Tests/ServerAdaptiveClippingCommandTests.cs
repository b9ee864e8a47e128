using System.Globalization;
using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server;

namespace Confide.Cli.Tests;

/// <summary>
/// <c>confide server --dp-adaptive-quantile γ --dp-client-clip [--secure-agg]</c> run in process, with three real
/// clients on 127.0.0.1: the run completes and the clip norm the server saved has moved from --dp-clip.
/// </summary>
public sealed class ServerAdaptiveClippingCommandTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Server_runs_client_side_adaptive_clipping_with_and_without_secure_aggregation(bool secure)
    {
        const int clients = 3;
        string state = Path.Combine(Path.GetTempPath(), "confide-adaptive-cli-" + Guid.NewGuid().ToString("N"));
        int port = Confide.Testing.LoopbackPort.Free();
        var keys = new List<IdentityKeyPair>();
        var connections = new List<FederationClient>();
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("admin", "token", "--state", state, "--count", $"{clients}");
            Assert.True(code == 0, stderr);
            string[] tokens = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

            string[] args =
            [
                "server", "--state", state, "--insecure", "--listen", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
                "--rounds", "3", "--clients-per-round", $"{clients}", "--deadline", "30", "--linger", "1",
                "--dp-noise", "1", "--dp-clip", "0.6", "--population", $"{clients}", "--epsilon", "1000", "--dp-client-clip",
                "--dp-adaptive-quantile", "0.5", "--dp-count-noise", "1", "--dp-adaptive-lr", "0.5", "--address-rate", "1000",
                .. secure ? (string[])["--secure-agg", "--stage-deadline", "10"] : [],
            ];
            var server = Task.Run(() => CliRunner.Run(args));

            var options = new FederationClientOptions(new Uri($"http://127.0.0.1:{port}/"), null, insecure: true)
            {
                CallTimeout = TimeSpan.FromSeconds(10),
                TransferTimeout = TimeSpan.FromSeconds(20),
            };
            var runs = new List<Task<string>>();
            for (int i = 0; i < clients; i++)
            {
                var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(900 + i)));
                keys.Add(key);
                var client = new FederationClient(options, key);
                connections.Add(client);
                await LoopbackEnrollment.EnrollWhenListeningAsync(client, tokens[i], budget.Token);
                var progress = ParticipantProgress.Load(Path.Combine(state, $"client-{i}.progress"));
                var participant = new FederatedParticipant(client, new ShiftTrainer(i, 0.01f), progress) { InitialBackoff = TimeSpan.FromMilliseconds(50) };
                runs.Add(Task.Run(() => participant.RunAsync(budget.Token)));
            }

            Assert.All(await Task.WhenAll(runs).WaitAsync(budget.Token), r => Assert.Equal("rounds-completed", r));
            var (exit, _, serverErr) = await server.WaitAsync(budget.Token);
            Assert.True(exit == 0, serverErr);

            using var store = StateStore.Open(state);
            var rounds = store.ListRounds();
            Assert.Equal(3, rounds.Count);
            Assert.All(rounds, r => Assert.Equal("aggregated", r.Status));
            Assert.All(rounds, r => Assert.Equal(clients, r.Accepted.Count));
            // Update norms are 0.25, 0.51 and 0.76 (0.01·(i+1)·√650): C₀ = 0.6 sits between, and C moved.
            double clip = store.LoadServerState()!.ClipNorm!.Value;
            Assert.NotEqual(0.6, clip);
            Assert.InRange(clip, 0.6 * Math.Exp(-0.5 * 3), 0.6 * Math.Exp(0.5 * 3));
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
