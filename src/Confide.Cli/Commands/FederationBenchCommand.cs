using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confide.Aggregation;
using Confide.Cli.Federation;
using Confide.Client;
using Confide.Parameters;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide bench federation</c>: one or more rounds of N in-process clients × D parameters against a real server on
/// loopback (TLS unless --insecure), reporting round latency, bytes moved, throughput, the process's peak working set
/// (server and clients share it, unless --client-processes puts the clients in child processes), and two floors: the
/// time one plain TCP and one TLS loopback connection take to move the same bytes, and (with --client-processes) the
/// time the same bytes take over one connection per client from the same client processes (<see cref="RawRoundTransfer"/>).
/// </summary>
internal static class FederationBenchCommand
{
    public static Command Create()
    {
        var clients = new Option<int>("--clients") { Description = "Clients (all sampled).", DefaultValueFactory = _ => 10 };
        var parameters = new Option<int>("--params") { Description = "Model parameters.", DefaultValueFactory = _ => 100_000 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds.", DefaultValueFactory = _ => 1 };
        var insecure = new Option<bool>("--insecure") { Description = "Plain HTTP/2 on loopback instead of TLS." };
        var secureAgg = new Option<bool>("--secure-agg") { Description = "Run the rounds through secure aggregation (SecAgg+ over the wire)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var processes = new Option<int>("--client-processes") { Description = "Run the clients in this many child processes (0: in the server's process), so the server's memory and CPU are its own." };
        var transfers = new Option<int?>("--max-transfers") { Description = "The server's limit on concurrent model downloads and on concurrent uploads (default: the server's default)." };
        var command = new Command("federation", "Measure networked rounds on loopback: N clients × D parameters through a real server.");
        foreach (var o in new Option[] { clients, parameters, rounds, insecure, secureAgg, json, transfers, processes })
        {
            command.Options.Add(o);
        }

        command.Subcommands.Add(BenchClientProcesses.CreateCommand(index => new ConstantStepTrainer(index)));
        command.Subcommands.Add(RawRoundTransfer.CreatePeerCommand());
        command.SetAction(async (parse, cancellationToken) =>
        {
            int n = parse.GetValue(clients), d = parse.GetValue(parameters), r = parse.GetValue(rounds);
            int? maxTransfers = parse.GetValue(transfers);
            int childProcesses = parse.GetValue(processes);
            if (n is < 1 or > 5000 || d is < 1 or > 50_000_000 || r is < 1 or > 100 || maxTransfers is < 1 or > 10_000 || childProcesses < 0 || childProcesses > n)
            {
                throw new CliException("--clients must be in 1..5000, --params in 1..50000000, --rounds in 1..100, --max-transfers in 1..10000 and --client-processes in 0..clients.", 2);
            }

            string state = Path.Combine(Path.GetTempPath(), "confide-bench-" + Guid.NewGuid().ToString("N"));
            try
            {
                await RunAsync(n, d, r, parse.GetValue(insecure), parse.GetValue(secureAgg), parse.GetValue(json), maxTransfers, childProcesses, state, cancellationToken);
            }
            finally
            {
                if (Directory.Exists(state))
                {
                    Directory.Delete(state, recursive: true);
                }
            }

            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int n, int d, int r, bool insecure, bool secureAgg, bool json, int? maxTransfers, int childProcesses, string state, CancellationToken cancellationToken)
    {
        var layout = ParameterLayout.Create(("weights", [d]));
        var options = new RoundOptions(r, ClientSampling.OfCount(n), TimeSpan.FromMinutes(30), n, new AggregatorSettings("fedavg"), maxSampleCount: 1_000_000);
        var serverOptions = new ServerOptions(state, options, ModelParameters.Zeros(layout))
        {
            Port = 0,
            Insecure = insecure,
            TickInterval = TimeSpan.FromMilliseconds(10),
            RetryAfter = TimeSpan.FromMilliseconds(50),
            RateLimits = null, // hundreds of clients enroll from one address here; the bench measures transfer, not limits
            SecureAggregation = secureAgg ? new SecureAggregationSettings(TimeSpan.FromMinutes(10)) { PollInterval = TimeSpan.FromMilliseconds(50) } : null,
        };
        if (maxTransfers is { } limit)
        {
            serverOptions = serverOptions with { MaxConcurrentTransfers = limit };
        }

        await using var server = await ConfideServer.StartAsync(serverOptions, cancellationToken: cancellationToken);
        var keys = new List<IdentityKeyPair>();
        var participants = new List<FederatedParticipant>();
        var federationClients = new List<FederationClient>();
        List<Process> children = [];
        try
        {
            for (int i = 0; i < n && childProcesses == 0; i++)
            {
                var key = IdentityKeyPair.Generate(CryptoRandomSource.Instance);
                keys.Add(key);
                var clientOptions = insecure
                    ? new FederationClientOptions(server.Address, null, insecure: true)
                    : new FederationClientOptions(server.Address, server.CertificateFingerprint);
                var client = new FederationClient(clientOptions with { CallTimeout = TimeSpan.FromMinutes(5), TransferTimeout = TimeSpan.FromMinutes(30) }, key);
                federationClients.Add(client);
                await client.EnrollAsync(server.IssueToken(), cancellationToken: cancellationToken);
                participants.Add(new FederatedParticipant(client, new ConstantStepTrainer(i), ParticipantProgress.Load(Path.Combine(state, $"p{i}.progress"))));
            }

            long modelBytes = Safetensors.Write(ModelParameters.Zeros(layout)).Length;
            using var phases = new ServerPhaseRecorder();
            using var timeline = new CpuTimeline();
            var process = Process.GetCurrentProcess();
            var cpuBefore = process.TotalProcessorTime;
            var pauseBefore = GC.GetTotalPauseDuration();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            int gen2Before = GC.CollectionCount(2);
            var clock = Stopwatch.StartNew();
            List<BenchClientProcesses.ChildReport> reports = [];
            if (childProcesses > 0)
            {
                var tokens = Enumerable.Range(0, n).Select(_ => server.IssueToken()).ToList();
                children = BenchClientProcesses.Start(childProcesses, tokens, server.Address, server.CertificateFingerprint, d, state);
                var collecting = BenchClientProcesses.CollectAsync(children, cancellationToken);
                if (await Task.WhenAny(collecting, server.Finished) == collecting)
                {
                    // The children end only after the run has: this throws at once if one of them failed.
                    reports = await collecting;
                }

                await server.Finished;
                reports = await collecting;
            }
            else
            {
                await Task.WhenAll(participants.Select(p => Task.Run(() => p.RunAsync(cancellationToken), cancellationToken)));
                await server.Finished;
            }

            clock.Stop();
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
            double pause = (GC.GetTotalPauseDuration() - pauseBefore).TotalSeconds;
            double allocated = (GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore) / 1e6;
            int gen2 = GC.CollectionCount(2) - gen2Before;
            long peak = process.PeakWorkingSet64;

            var stored = server.Store.ListRounds();
            double[] latencies = [.. stored.Select(s => (s.CompletedAt!.Value - s.StartedAt).TotalSeconds)];
            double perRound = latencies.Average();

            // Start to next start: the whole cycle of a long-running server, including the checkpoint after aggregation
            // and the start of the next round, which the latency above leaves out.
            double[] periods = [.. stored.Zip(stored.Skip(1), (a, b) => (b.StartedAt - a.StartedAt).TotalSeconds)];

            // CPU inside each round (start → aggregation), per process: the primary figure on a loaded machine.
            var serverSamples = timeline.Samples;
            var childSamples = reports.Select(c => c.Timeline).ToList();
            double[] serverRoundCpu = [.. stored.Select(s => CpuTimeline.Between(serverSamples, s.StartedAt, s.CompletedAt!.Value))];
            double[] clientRoundCpu = [.. stored.Select(s => childSamples.Sum(c => CpuTimeline.Between(c, s.StartedAt, s.CompletedAt!.Value)))];

            // Rounds after the first: a long-running server and its clients pay the JIT of a fresh process only once.
            double warmRound = latencies.Length > 1 ? latencies.Skip(1).Average() : perRound;
            int accepted = stored.Sum(s => s.Accepted.Count);
            long roundBytes = 2L * n * modelBytes;
            long moved = roundBytes * r;

            // The floors, measured now, in the same process, on the same (possibly loaded) machine. A single transfer
            // varies by about ±10 % from one to the next, so each floor is the median of three, after untimed ones:
            // after a short run the transfer code is not yet compiled at its final tier (one untimed transfer was not
            // enough: the TLS floor measured 0.60 s after 3 rounds against 0.45 s after 12).
            using var certificate = insecure ? null : ServerCertificate.LoadOrCreate(state, [], out _);
            var (rawTcpRuns, _) = await FloorRunsAsync(() => RawLoopbackTransfer.TcpSecondsAsync(roundBytes, cancellationToken));
            double rawTcp = Median(rawTcpRuns);
            double[] rawTlsRuns = [];
            double? rawTls = null, rawTlsCpu = null;
            if (certificate is not null)
            {
                (rawTlsRuns, double cpuPerRun) = await FloorRunsAsync(() => RawLoopbackTransfer.TlsSecondsAsync(roundBytes, certificate, cancellationToken));
                rawTls = Median(rawTlsRuns);
                rawTlsCpu = cpuPerRun;
            }

            // The round-shaped floor: the same bytes over one connection per client from the same client processes.
            double[] rawRoundRuns = [];
            double? rawRound = null;
            if (childProcesses > 0)
            {
                rawRoundRuns = await RawRoundTransfer.SecondsAsync(n, childProcesses, modelBytes, RawWarmUps, RawRuns, certificate, cancellationToken);
                rawRound = Median(rawRoundRuns);
            }

            // The steady state of a long-running server, when the run reaches it.
            double? steady = r >= SteadyFrom + 2 ? Median(latencies[(SteadyFrom - 1)..]) : null;
            double? steadyPeriod = r >= SteadyFrom + 2 ? Median(periods[(SteadyFrom - 1)..]) : null;

            double raw = rawTls ?? rawTcp;

            // A native AOT build (docs/deployment.md) compiles nothing at run time.
            bool jit = System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled;
            string load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
            var phaseNames = new[]
            {
                ServerMetrics.ModelSend, ServerMetrics.UpdateReceive, ServerMetrics.UpdateDecode, ServerMetrics.UpdatePersist,
                ServerMetrics.UpdateCommit, ServerMetrics.UpdateLockWait, ServerMetrics.UpdateValidate, ServerMetrics.UpdateRecord,
                ServerMetrics.UpdateFlush,
                ServerMetrics.RoundAggregate, ServerMetrics.RoundPersist,
            };
            if (json)
            {
                var result = new Dictionary<string, object?>
                {
                    ["clients"] = n, ["params"] = d, ["rounds"] = r, ["transport"] = insecure ? "h2c" : "tls", ["runtime"] = jit ? "jit" : "native-aot", ["secure_agg"] = secureAgg, ["max_transfers"] = serverOptions.MaxConcurrentTransfers,
                    ["round_seconds"] = perRound, ["round_latencies"] = latencies, ["round_periods"] = periods, ["run_seconds"] = clock.Elapsed.TotalSeconds, ["accepted_updates"] = accepted,
                    ["bytes_moved"] = moved, ["throughput_mb_per_s"] = moved / 1e6 / (perRound * r),
                    ["raw_tcp_seconds"] = rawTcp, ["raw_tls_seconds"] = (object?)rawTls ?? "n/a", ["raw_tcp_runs"] = rawTcpRuns, ["raw_tls_runs"] = rawTlsRuns, ["ratio_to_raw"] = perRound / raw,
                    ["ratio_to_raw_tcp"] = perRound / rawTcp, ["cpu_seconds"] = cpu, ["gc_pause_seconds"] = pause, ["gen2_collections"] = gen2,
                    ["allocated_mb"] = allocated, ["peak_working_set_mb"] = peak / 1e6, ["client_processes"] = childProcesses,
                    ["client_cpu_seconds"] = reports.Sum(c => c.CpuSeconds), ["client_peak_working_set_mb"] = reports.Count == 0 ? 0 : reports.Max(c => c.PeakWorkingSetMb), ["load_average"] = load,
                    ["round_seconds_warm"] = warmRound, ["ratio_to_raw_warm"] = warmRound / raw,
                    ["round_windows_unix_ms"] = stored.Select(s => new[] { s.StartedAt.ToUnixTimeMilliseconds(), s.CompletedAt!.Value.ToUnixTimeMilliseconds() }).ToArray(),
                    ["round_seconds_steady"] = (object?)steady ?? "n/a", ["round_period_steady"] = (object?)steadyPeriod ?? "n/a",
                    ["raw_round_seconds"] = (object?)rawRound ?? "n/a", ["raw_round_runs"] = rawRoundRuns,
                    ["ratio_to_raw_round"] = rawRound is { } rr ? perRound / rr : "n/a", ["ratio_to_raw_round_warm"] = rawRound is { } rw ? warmRound / rw : "n/a",
                    ["round_cpu_server"] = serverRoundCpu, ["round_cpu_clients"] = clientRoundCpu, ["raw_tls_cpu_seconds"] = (object?)rawTlsCpu ?? "n/a", ["task_requests"] = phases[ServerMetrics.TaskRequests].Sum,
                    ["phases"] = phaseNames.ToDictionary(p => p, p => (object?)new Dictionary<string, object?> { ["count"] = phases[p].Count, ["sum_seconds"] = phases[p].Sum, ["max_seconds"] = phases[p].Max }),
                };
                Console.Out.WriteLine(JsonSerializer.Serialize(result, CliJsonContext.Default.DictionaryStringObject));
                return;
            }

            var o = Console.Out;
            o.WriteLine(Invariant($"clients {n}, params {d:N0}, rounds {r}, {(insecure ? "h2c" : "TLS")} on loopback{(secureAgg ? ", secure aggregation" : "")}, at most {serverOptions.MaxConcurrentTransfers} concurrent transfers each way; {(jit ? "JIT" : "native AOT")} build; load average {load}"));
            o.WriteLine(Invariant($"round latency (server start→aggregate, mean): {perRound:F2} s; whole run incl. polling: {clock.Elapsed.TotalSeconds:F2} s; accepted updates {accepted}"));
            if (r > 1)
            {
                o.WriteLine($"each round (the first includes the {(jit ? "JIT warm-up" : "start-up")} of a fresh process): " + string.Join(", ", latencies.Select(l => Invariant($"{l:F2} s"))));
                o.WriteLine("start to next start (the whole cycle: also the checkpoint and the next round's start): " + string.Join(", ", periods.Select(l => Invariant($"{l:F2} s"))));
            }

            o.WriteLine("CPU inside each round, server process: " + string.Join(", ", serverRoundCpu.Select(c => Invariant($"{c:F2} s")))
                + (childProcesses > 0 ? "; client processes: " + string.Join(", ", clientRoundCpu.Select(c => Invariant($"{c:F2} s"))) : " (clients included)"));
            o.WriteLine(Invariant($"bytes moved (models down + updates up): {moved / 1e6:F1} MB; throughput {moved / 1e6 / (perRound * r):F1} MB/s"));
            o.WriteLine(Invariant($"raw transfer of one round's bytes over one loopback connection, median of {RawRuns} after {RawWarmUps} untimed: TCP {rawTcp:F2} s{(rawTls is { } t ? Invariant($", TLS {t:F2} s ({rawTlsCpu:F2} s CPU a run, both ends; runs {string.Join(", ", rawTlsRuns.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} s)") : "")}"));
            if (rawRound is { } floor)
            {
                o.WriteLine(Invariant($"raw transfer of the round's bytes the round's way ({n} connections from {childProcesses} client processes, one model down and one up on each, all at once; {(insecure ? "TCP" : "TLS")}), median of {RawRuns} after {RawWarmUps} untimed: {floor:F2} s (runs {string.Join(", ", rawRoundRuns.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} s)"));
            }

            o.WriteLine(Invariant($"ratio round/raw {(insecure ? "TCP" : "TLS")}: {perRound / raw:F1}× (round/raw TCP {perRound / rawTcp:F1}×){(rawRound is { } f ? Invariant($"; round/raw round-shaped transfer {perRound / f:F1}×") : "")}"));
            if (r > 1)
            {
                o.WriteLine(Invariant($"rounds after the first{(jit ? " (a fresh process still compiles code in round 2)" : "")}: {warmRound:F2} s mean, {warmRound / raw:F1}× raw {(insecure ? "TCP" : "TLS")}{(rawRound is { } shaped ? Invariant($", {warmRound / shaped:F1}× the round-shaped transfer") : "")}"));
            }

            if (steady is { } st && steadyPeriod is { } sp)
            {
                o.WriteLine(Invariant($"steady state (median of rounds {SteadyFrom}–{r}): latency {st:F2} s, period {sp:F2} s; {st / raw:F1}× and {sp / raw:F1}× raw {(insecure ? "TCP" : "TLS")}{(rawRound is { } shaped2 ? Invariant($", {st / shaped2:F1}× and {sp / shaped2:F1}× the round-shaped transfer") : "")}"));
            }
            if (childProcesses > 0)
            {
                o.WriteLine(Invariant($"server process CPU during the run: {cpu:F2} s; GC: {allocated:F0} MB allocated, {gen2} gen2 collections, {pause:F2} s paused"));
                o.WriteLine(Invariant($"peak working set of the server process: {peak / 1e6:F0} MB"));
                o.WriteLine(Invariant($"{childProcesses} client processes: CPU {reports.Sum(c => c.CpuSeconds):F2} s in all (whole life: start-up, enrollment, JIT), largest peak working set {reports.Max(c => c.PeakWorkingSetMb):F0} MB"));
            }
            else
            {
                o.WriteLine(Invariant($"process CPU during the run: {cpu:F2} s; GC: {allocated:F0} MB allocated, {gen2} gen2 collections, {pause:F2} s paused"));
                o.WriteLine(Invariant($"peak working set of the process (server and all clients): {peak / 1e6:F0} MB"));
            }

            o.WriteLine(Invariant($"FetchTask requests served: {phases[ServerMetrics.TaskRequests].Sum:F0}"));
            o.WriteLine("server phases (summed over concurrent requests, so they can exceed the round):");
            foreach (string p in phaseNames)
            {
                var phase = phases[p];
                o.WriteLine(Invariant($"  {p,-32} n {phase.Count,5}  sum {phase.Sum,8:F3} s  mean {(phase.Count == 0 ? 0 : phase.Sum / phase.Count) * 1e3,8:F2} ms  max {phase.Max * 1e3,8:F2} ms"));
            }
        }
        finally
        {
            foreach (var child in children.Where(c => !HasExited(c)))
            {
                child.Kill(entireProcessTree: true);
            }

            foreach (var c in federationClients)
            {
                c.Dispose();
            }

            foreach (var k in keys)
            {
                k.Dispose();
            }
        }
    }

    private static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true; // already disposed after its report was read
        }
    }

    /// <summary>The first round of the steady state a long-running server reaches (docs/bench/federation.md).</summary>
    private const int SteadyFrom = 6;

    /// <summary>Timed transfers per raw floor; the floor is their median.</summary>
    private const int RawRuns = 3;

    /// <summary>Untimed transfers before them, so that the transfer code runs at its final JIT tier.</summary>
    private const int RawWarmUps = 3;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// <see cref="RawWarmUps"/> untimed runs of <paramref name="transfer"/>, then <see cref="RawRuns"/> timed ones: their
    /// seconds, and this process's CPU seconds per timed run.
    /// </summary>
    private static async Task<(double[] Runs, double CpuPerRun)> FloorRunsAsync(Func<Task<double>> transfer)
    {
        for (int i = 0; i < RawWarmUps; i++)
        {
            await transfer();
        }

        double[] runs = new double[RawRuns];
        var cpuStart = Environment.CpuUsage.TotalTime;
        for (int i = 0; i < RawRuns; i++)
        {
            runs[i] = await transfer();
        }

        return (runs, (Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds / RawRuns);
    }

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>
    /// A trainer that costs next to nothing: it moves every weight by a small client-specific step. It writes into one
    /// array of its own, reused every round (the participant is done with a round's trained model before it asks for the
    /// next), so the benchmark does not charge the round a model-sized allocation per client that a real trainer,
    /// holding its model between rounds, would not make either.
    /// </summary>
    private sealed class ConstantStepTrainer(int index) : ILocalTrainer
    {
        private float[]? _weights;

        public LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken)
        {
            if (_weights is null || _weights.Length != global.Length)
            {
                _weights = new float[global.Length];
            }

            System.Numerics.Tensors.TensorPrimitives.Add(global.AsSpan(), 0.001f * ((index % 7) - 3), _weights);
            return new LocalTrainingResult(new ModelParameters(global.Layout, _weights), 100, 0);
        }

        public LocalEvaluation? Evaluate(ModelParameters model) => null;
    }
}
