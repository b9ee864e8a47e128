using System.Diagnostics;
using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server;

namespace Confide.Cli.Tests;

/// <summary>
/// The real <c>confide server</c> as a child process, killed with SIGKILL in the middle of a run and started again on
/// the same state folder: it resumes from the last completed round, and no accepted update and no ledger entry is lost.
/// </summary>
public sealed class ServerProcessKillTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Rounds = 6;

    /// <summary>The CLI assembly built next to this test assembly (the test project references the CLI project).</summary>
    internal static string CliAssembly => Path.Combine(AppContext.BaseDirectory, "confide.dll");

    [CliAssemblyFact]
    public async Task A_server_killed_mid_run_resumes_from_the_last_completed_round_and_loses_nothing()
    {
        string state = Path.Combine(Path.GetTempPath(), "confide-kill-test-" + Guid.NewGuid().ToString("N"));
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int port = Confide.Testing.LoopbackPort.Free();
        string[] args =
        [
            "server", "--state", state, "--insecure", "--listen", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--rounds", $"{Rounds}", "--clients-per-round", "2", "--min-updates", "2", "--deadline", "40",
            "--dp-noise", "1.0", "--dp-clip", "1.0", "--population", "100", "--epsilon", "1000",
            "--dp-adaptive-quantile", "0.5", "--dp-count-noise", "1.0", "--server-optimizer", "fedadam", "--server-lr", "0.1",
            "--address-rate", "1000", "--linger", "30",
        ];
        ServerProcess? server = null;
        var keys = new List<IdentityKeyPair>();
        var clients = new List<FederationClient>();
        try
        {
            var (code, stdout, stderr) = CliRunner.Run("admin", "token", "--state", state, "--count", "2");
            Assert.True(code == 0, stderr);
            string[] tokens = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

            server = ServerProcess.Start(args);
            var address = new Uri($"http://127.0.0.1:{port}/");
            var options = new FederationClientOptions(address, null, insecure: true) { CallTimeout = TimeSpan.FromSeconds(10), TransferTimeout = TimeSpan.FromSeconds(20) };
            await server.WaitForOutputAsync("listening on", budget.Token);

            var participants = new List<Task<string>>();
            for (int i = 0; i < 2; i++)
            {
                var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(500 + i)));
                keys.Add(key);
                var client = new FederationClient(options, key);
                clients.Add(client);
                await client.EnrollAsync(tokens[i]);
                var progress = ParticipantProgress.Load(Path.Combine(state, $"client-{i}.progress"));
                progress.SetClientId(client.ClientId!);
                // The second client is slow, so a round spends time with one accepted update: the moment to kill.
                var participant = new FederatedParticipant(client, new ShiftTrainer(i, 0.001f, TimeSpan.FromMilliseconds(i == 0 ? 0 : 400)), progress)
                {
                    InitialBackoff = TimeSpan.FromMilliseconds(100),
                    MaxBackoff = TimeSpan.FromMilliseconds(500),
                    MaxConsecutiveFailures = 400,
                };
                participants.Add(Task.Run(() => participant.RunAsync(budget.Token)));
            }

            // Kill after round 2 completed, preferably while a round holds an accepted update.
            var observer = clients[0];
            var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(25);
            while (true)
            {
                var status = await observer.GetStatusAsync(budget.Token);
                Assert.True(status.CompletedRounds < Rounds, "the run finished before the kill; the test needs slower rounds");
                if (status.CompletedRounds >= 2 && (status is { Stage: "collecting", AcceptedUpdates: >= 1 } || DateTime.UtcNow > giveUp))
                {
                    break;
                }

                await Task.Delay(30, budget.Token);
            }

            await server.KillAsync();
            server = null;

            // What was durable at the moment of the kill.
            Snapshot before;
            using (var store = StateStore.Open(state))
            {
                before = Snapshot.Of(store);
            }

            Assert.InRange(before.Completed.Count, 2, Rounds - 1);
            output.WriteLine($"killed after {before.Completed.Count} completed rounds; collecting: {string.Join(", ", before.Collecting.Select(kv => $"round {kv.Key} with {kv.Value.Count} accepted"))}; ledger entries: {before.Ledger.Count}");

            server = ServerProcess.Start(args);
            string[] reasons = await Task.WhenAll(participants).WaitAsync(budget.Token);
            Assert.All(reasons, r => Assert.Equal("rounds-completed", r));
            await server.KillAsync();
            server = null;

            using (var store = StateStore.Open(state))
            {
                var after = Snapshot.Of(store);
                var rounds = store.ListRounds();
                Assert.Equal(Enumerable.Range(0, Rounds).Select(r => (long)r), rounds.Select(r => r.Round));
                Assert.All(rounds, r =>
                {
                    Assert.Equal("aggregated", r.Status);
                    Assert.Equal(clients.Select(c => c.ClientId!).Order(StringComparer.Ordinal), r.Accepted.Order(StringComparer.Ordinal));
                });

                // Nothing that was durable before the kill was lost or changed.
                foreach (var (round, accepted) in before.Completed)
                {
                    Assert.Equal(accepted, after.Completed[round]);
                }

                foreach (var (round, accepted) in before.Collecting)
                {
                    Assert.Subset(after.Completed[round].ToHashSet(), accepted.ToHashSet());
                }

                Assert.Equal(before.Ledger, after.Ledger.Take(before.Ledger.Count));
                Assert.Equal(Rounds, after.Ledger.Count);
                Assert.Equal(Enumerable.Range(0, Rounds).Select(r => (long)r), after.Ledger.Select(r => r.Round));

                // The server state written by the process: FedAdam's moments and the adaptive clip norm.
                var saved = store.LoadServerState()!;
                Assert.Equal("fedadam", saved.Optimizer.Optimizer);
                Assert.Equal(["m", "v"], saved.Optimizer.Vectors.Keys);
                Assert.NotNull(saved.ClipNorm);
                Assert.NotEqual(1.0, saved.ClipNorm);
            }
        }
        finally
        {
            // Stop the participants' retry loops before tearing down (they would otherwise retry a dead server).
            await budget.CancelAsync();
            if (server is not null)
            {
                await server.KillAsync();
            }

            foreach (var c in clients)
            {
                c.Dispose();
            }

            foreach (var k in keys)
            {
                k.Dispose();
            }

            try
            {
                Directory.Delete(state, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Accepted client ids of the completed rounds and of the collecting round, and the ledger's releases.</summary>
    private sealed record Snapshot(Dictionary<long, List<string>> Completed, Dictionary<long, List<string>> Collecting, List<Confide.Privacy.PrivacyRelease> Ledger)
    {
        public static Snapshot Of(StateStore store)
        {
            var rounds = store.ListRounds();
            return new Snapshot(
                rounds.Where(r => r.CompletedAt is not null).ToDictionary(r => r.Round, r => r.Accepted.Order(StringComparer.Ordinal).ToList()),
                rounds.Where(r => r.CompletedAt is null).ToDictionary(r => r.Round, r => r.Accepted.ToList()),
                [.. store.LoadLedger()?.Releases ?? []]);
        }
    }

    /// <summary>A <c>dotnet confide.dll …</c> child process whose output is collected for diagnostics.</summary>
    private sealed class ServerProcess
    {
        private readonly Process _process;
        private readonly List<string> _output = [];

        private ServerProcess(Process process) => _process = process;

        public static ServerProcess Start(string[] args)
        {
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(CliAssembly);
            foreach (string a in args)
            {
                info.ArgumentList.Add(a);
            }

            var server = new ServerProcess(new Process { StartInfo = info });
            server._process.OutputDataReceived += (_, e) => server.Add(e.Data);
            server._process.ErrorDataReceived += (_, e) => server.Add(e.Data);
            server._process.Start();
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            return server;
        }

        public async Task WaitForOutputAsync(string text, CancellationToken cancellationToken)
        {
            while (!Contains(text))
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"confide server exited with {_process.ExitCode}:\n{Output()}");
                }

                await Task.Delay(50, cancellationToken);
            }
        }

        /// <summary>SIGKILL on Unix: no shutdown code runs.</summary>
        public async Task KillAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
            _process.Dispose();
        }

        private void Add(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.Add(line);
                }
            }
        }

        private bool Contains(string text)
        {
            lock (_output)
            {
                return _output.Exists(l => l.Contains(text, StringComparison.Ordinal));
            }
        }

        private string Output()
        {
            lock (_output)
            {
                return string.Join('\n', _output.TakeLast(40));
            }
        }
    }
}
