using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;

namespace Confide.Cli.Commands;

/// <summary><c>confide secagg bench</c>: one full secure-aggregation round in process, with real cryptography, timed.</summary>
internal static class SecAggCommand
{
    public static Command Create()
    {
        var command = new Command("secagg", "Secure aggregation (Bonawitz et al. 2017, SecAgg+ of Bell et al. 2020).");
        command.Subcommands.Add(CreateBench());
        return command;
    }

    private static Command CreateBench()
    {
        var clients = new Option<int>("--clients") { Description = "Number of clients n.", DefaultValueFactory = _ => 100 };
        var dim = new Option<int>("--dim") { Description = "Vector length D.", DefaultValueFactory = _ => 10_000 };
        var dropout = new Option<double>("--dropout") { Description = "Fraction of clients that vanish after ShareKeys (before sending their masked input).", DefaultValueFactory = _ => 0.0 };
        var neighbours = new Option<int?>("--neighbours") { Description = "SecAgg+ neighbourhood size k (default n − 1, the full graph)." };
        var threshold = new Option<int?>("--threshold") { Description = "Shamir threshold t (default: the largest t ≤ ⌊k/2⌋ + 1 for which the round aborts with probability ≤ 1 % at the given dropout)." };
        var bits = new Option<int>("--bits") { Description = "Modulus exponent: values live in Z_2^bits.", DefaultValueFactory = _ => 32 };
        var seed = new Option<ulong?>("--seed") { Description = "Seed a deterministic source instead of the OS CSPRNG (reproducible runs only)." };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object instead of text: client_ms is CPU time per client (per stage in client_stage_cpu_ms), client_wall_ms wall time per client, server_ms server wall time.",
        };
        var concurrent = new Option<bool>("--concurrent-clients")
        {
            Description = "Run the clients of a stage in parallel with each other (faster on many cores) instead of one at a time; a client's wall time then includes waiting for the others and is not reported as meaningful.",
        };
        var command = new Command("bench", "Run one full round in process with real crypto and report client time (CPU and wall, per client and per stage), server time per stage (wall and CPU), bytes per client and correctness.");
        foreach (Option o in new Option[] { clients, dim, dropout, neighbours, threshold, bits, seed, json, concurrent })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse =>
        {
            int n = parse.GetValue(clients);
            int d = parse.GetValue(dim);
            double p = parse.GetValue(dropout);
            if (!(p >= 0 && p < 1))
            {
                throw new ArgumentException($"--dropout must be in [0, 1), got {p.ToString(CultureInfo.InvariantCulture)}.");
            }

            int k = parse.GetValue(neighbours) ?? n - 1;
            int t = parse.GetValue(threshold) ?? DefaultThreshold(n, k, p);
            var options = new SecAggOptions(n, t, d, k, parse.GetValue(bits));
            ulong? fixedSeed = parse.GetValue(seed);
            IRandomSource random = fixedSeed is { } s ? new SeededRandomSource(s) : CryptoRandomSource.Instance;
            return Run(options, p, random, parse.GetValue(json), oneAtATime: !parse.GetValue(concurrent));
        });
        return command;
    }

    /// <summary>
    /// The largest t ≤ ⌊k/2⌋ + 1 with 1 − (1 − P[Binomial(k, 1 − p) &lt; t])^n ≤ 1 %: each of about n neighbourhoods must keep
    /// t members when a fraction p of clients drops (Bell et al. 2020 choose t against the dropout rate the same way).
    /// </summary>
    internal static int DefaultThreshold(int n, int k, double dropout)
    {
        int best = (k / 2) + 1;
        if (dropout <= 0)
        {
            return best;
        }

        double logKeep = Math.Log(1 - dropout);
        double logDrop = Math.Log(dropout);
        for (int t = best; t >= 1; t--)
        {
            double below = 0;
            for (int i = 0; i < t; i++)
            {
                below += Math.Exp(LogChoose(k, i) + (i * logKeep) + ((k - i) * logDrop));
            }

            if (1 - Math.Pow(1 - Math.Min(1, below), n) <= 0.01)
            {
                return t;
            }
        }

        return 1;
    }

    private static double LogChoose(int n, int r)
    {
        double sum = 0;
        for (int i = 1; i <= r; i++)
        {
            sum += Math.Log(n - r + i) - Math.Log(i);
        }

        return sum;
    }

    private static int Run(SecAggOptions options, double dropout, IRandomSource random, bool json, bool oneAtATime)
    {
        int n = options.ClientCount;
        // The inputs are benchmark data, not secrets: a fast seeded source keeps their generation out of the way.
        IRandomSource inputRandom = new SeededRandomSource(random.NextUInt64());
        var inputs = new ulong[n][];
        for (int u = 0; u < n; u++)
        {
            inputs[u] = new ulong[options.Dimension];
            for (int i = 0; i < inputs[u].Length; i++)
            {
                inputs[u][i] = inputRandom.NextUInt64() & options.ModulusMask;
            }
        }

        var dropouts = SecAggDropouts.Fraction(n, dropout, SecAggStage.MaskedInputCollection, random.Fork((1UL << 40) + 1));
        SecAggSimulationResult run = SecAggSimulation.Run(inputs, options, dropouts, random, oneAtATime);
        bool correct = run.Completed && SecAggSimulation.PlainSum(inputs, run.Result!.Survivors, options.ModulusBits).AsSpan().SequenceEqual(run.Result.Sum);

        if (json)
        {
            var stageMs = run.ServerMilliseconds.ToDictionary(e => e.Key.ToString(), e => Math.Round(e.Value, 3));
            var report = new Dictionary<string, object?>
            {
                ["clients"] = n,
                ["dim"] = options.Dimension,
                ["neighbours"] = options.NeighbourCount,
                ["threshold"] = options.Threshold,
                ["modulus_bits"] = options.ModulusBits,
                ["dropout"] = dropout,
                // client_ms is CPU time per client (process CPU of each stage's client work ÷ the clients in it, summed over
                // stages): unlike wall time it is not inflated when other processes load the machine.
                ["client_ms"] = Math.Round(run.ClientCpuMilliseconds, 3),
                // Wall time per client; only meaningful when the clients ran one at a time (the default).
                ["client_wall_ms"] = Math.Round(run.ClientMilliseconds, 3),
                ["clients_one_at_a_time"] = run.ClientsOneAtATime,
                ["client_stage_cpu_ms"] = run.ClientCpuMillisecondsByStage.ToDictionary(e => e.Key.ToString(), e => Math.Round(e.Value, 3)),
                ["client_stage_wall_ms"] = run.ClientWallMillisecondsByStage.ToDictionary(e => e.Key.ToString(), e => Math.Round(e.Value, 3)),
                ["server_ms"] = Math.Round(run.ServerTotalMilliseconds, 3),
                ["server_stage_ms"] = stageMs,
                ["server_cpu_ms"] = Math.Round(run.ServerCpuMilliseconds.Values.Sum(), 3),
                ["bytes_per_client"] = Math.Round(run.BytesPerClient),
                ["correct"] = correct,
                ["error"] = run.Error?.Message,
            };
            Console.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.DictionaryStringObject));
        }
        else
        {
            string graph = options.IsFullGraph ? "full graph" : "SecAgg+";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"secagg bench: n = {n}, D = {options.Dimension}, k = {options.NeighbourCount} ({graph}), t = {options.Threshold}, Z_2^{options.ModulusBits}, dropout {dropout:P0} after ShareKeys"));
            string wallNote = run.ClientsOneAtATime ? "clients one at a time" : "clients concurrent: wall includes waiting for other clients";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"client (mean, all stages): {run.ClientCpuMilliseconds:F1} ms CPU, {run.ClientMilliseconds:F1} ms wall ({wallNote})"));
            foreach ((SecAggStage stage, double cpu) in run.ClientCpuMillisecondsByStage)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"client {stage,-22} {cpu,10:F1} ms CPU {run.ClientWallMillisecondsByStage[stage],10:F1} ms wall"));
            }

            foreach ((SecAggStage stage, double ms) in run.ServerMilliseconds)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"server {stage,-22} {ms,10:F1} ms wall {run.ServerCpuMilliseconds[stage],10:F1} ms CPU"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"server total                  {run.ServerTotalMilliseconds,10:F1} ms wall {run.ServerCpuMilliseconds.Values.Sum(),10:F1} ms CPU"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bytes per client (sent + received): {run.BytesPerClient:N0}"));
            Console.WriteLine(run.Completed ? $"sum correct: {(correct ? "yes" : "NO")}" : $"round aborted: {run.Error!.Message}");
        }

        return correct ? 0 : 1;
    }
}
