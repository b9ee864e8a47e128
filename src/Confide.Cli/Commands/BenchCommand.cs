using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confide.Aggregation;
using Confide.Randomness;

namespace Confide.Cli.Commands;

/// <summary><c>confide bench …</c>: speed measurements of confide's kernels on seeded synthetic data.</summary>
internal static class BenchCommand
{
    /// <summary>The methods <c>bench aggregators</c> runs by default, in order.</summary>
    internal static readonly string[] AggregatorMethods = [.. AggregatorCatalog.Methods, "norm-bound"];

    public static Command Create()
    {
        var bench = new Command("bench", "Measure the speed of confide's kernels on seeded synthetic data.");
        bench.Subcommands.Add(CreateAggregators());
        bench.Subcommands.Add(FederationBenchCommand.Create());
        return bench;
    }

    /// <summary>
    /// Turns a method name into an aggregator for the benchmark through the shared <see cref="AggregatorCatalog"/>.
    /// f is <paramref name="byzantine"/>: Krum, Multi-Krum and Bulyan tolerate it, trimmed mean trims it per side
    /// (β = f/n), Multi-Krum averages the m = n − f best. "norm-bound" is FedAvg behind a norm bound of √d, which
    /// clips about half of the standard normal updates. FLTrust uses <paramref name="serverUpdate"/> as the root update.
    /// </summary>
    internal static IAggregator CreateAggregator(string method, int clients, int dimension, int byzantine, ReadOnlyMemory<float>? serverUpdate = null)
    {
        if (!AggregatorMethods.Contains(method))
        {
            throw new CliException($"unknown method '{method}'; expected one of {string.Join(", ", AggregatorMethods)}.", 2);
        }

        var settings = method switch
        {
            "norm-bound" => new AggregatorSettings("fedavg", NormBound: Math.Sqrt(dimension)),
            "trimmed-mean" => new AggregatorSettings(method, TrimRatio: (double)byzantine / clients),
            "multi-krum" => new AggregatorSettings(method, byzantine, Select: Math.Max(1, clients - byzantine)),
            "fltrust" => new AggregatorSettings(method, ServerUpdate: serverUpdate ?? throw new InvalidOperationException("FLTrust needs the server update.")),
            _ => new AggregatorSettings(method, AggregatorCatalog.UsesByzantine(method) ? byzantine : 0),
        };
        return AggregatorCatalog.Create(settings);
    }

    private static Command CreateAggregators()
    {
        var clients = new Option<int>("--clients") { Description = "Number of client updates n.", DefaultValueFactory = _ => 50 };
        var dim = new Option<int>("--dim") { Description = "Parameters per update d.", DefaultValueFactory = _ => 1_000_000 };
        var byzantine = new Option<int>("--byzantine") { Description = "Byzantine clients f to tolerate (trimmed-mean trims f per side).", DefaultValueFactory = _ => 5 };
        var runs = new Option<int>("--runs") { Description = "Timed runs per method, after two warm-up runs; the median is reported.", DefaultValueFactory = _ => 5 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the synthetic data.", DefaultValueFactory = _ => 7 };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods to run (default: {string.Join(",", AggregatorMethods)})." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };

        var command = new Command("aggregators", "Median milliseconds per aggregation method on seeded normal float32 updates.");
        foreach (var option in new Option[] { clients, dim, byzantine, runs, seed, methods, json })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse => RunAggregators(
            parse.GetValue(clients),
            parse.GetValue(dim),
            parse.GetValue(byzantine),
            parse.GetValue(runs),
            parse.GetValue(seed),
            parse.GetValue(methods),
            parse.GetValue(json)));
        return command;
    }

    private static int RunAggregators(int clients, int dim, int byzantine, int runs, ulong seed, string? methodList, bool json)
    {
        if (clients < 1)
        {
            throw new CliException($"--clients {clients}: expected at least 1.", 2);
        }

        if (dim < 1)
        {
            throw new CliException($"--dim {dim}: expected at least 1.", 2);
        }

        if (byzantine < 0)
        {
            throw new CliException($"--byzantine {byzantine}: expected 0 or more.", 2);
        }

        if (runs < 1)
        {
            throw new CliException($"--runs {runs}: expected at least 1.", 2);
        }

        // The updates are held in memory; refuse sizes that cannot fit instead of dying with OutOfMemoryException.
        long bytes = (long)clients * dim * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available / 2)
        {
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"--clients {clients} × --dim {dim} needs {bytes / 1e9:F1} GB for the updates; at most half of the {available / 1e9:F1} GB available is allowed."), 2);
        }

        string[] names = methodList is null
            ? AggregatorMethods
            : methodList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            throw new CliException("--methods: expected at least one method.", 2);
        }

        // Build and probe every method before generating the data, so a precondition fails fast. With the default list,
        // a method whose precondition fails at this n and f is skipped and named; a method the user asked for is an error.
        var aggregators = new List<(string Name, IAggregator? Aggregator)>();
        var skipped = new List<(string Name, string Reason)>();
        foreach (string name in names)
        {
            if (name == "fltrust")
            {
                aggregators.Add((name, null)); // built once the data exists: its root update is client 0's vector
                continue;
            }

            try
            {
                var aggregator = CreateAggregator(name, clients, dim, byzantine);
                Probe(aggregator, clients);
                aggregators.Add((name, aggregator));
            }
            catch (ArgumentException ex)
            {
                // ArgumentException appends " (Parameter 'x')", which means nothing to a CLI user.
                string reason = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);
                if (methodList is not null)
                {
                    throw new CliException($"{name} cannot run with --clients {clients} --byzantine {byzantine}: {reason}", 2);
                }

                skipped.Add((name, reason));
            }
        }

        var (updates, weights) = SyntheticUpdates(clients, dim, seed);
        for (int i = 0; i < aggregators.Count; i++)
        {
            if (aggregators[i].Aggregator is null)
            {
                aggregators[i] = (aggregators[i].Name, CreateAggregator(aggregators[i].Name, clients, dim, byzantine, updates[0]));
            }
        }

        var results = new List<(string Name, double Milliseconds)>();
        foreach (var (name, candidate) in aggregators)
        {
            var aggregator = candidate!;
            GC.Collect();
            // Two warm-up runs: the first also pays for JIT compilation and first-touch page faults of the output.
            aggregator.Aggregate(updates, weights);
            aggregator.Aggregate(updates, weights);
            var times = new double[runs];
            for (int r = 0; r < runs; r++)
            {
                long start = Stopwatch.GetTimestamp();
                aggregator.Aggregate(updates, weights);
                times[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            Array.Sort(times);
            double median = runs % 2 == 1 ? times[runs / 2] : (times[(runs / 2) - 1] + times[runs / 2]) / 2;
            results.Add((name, median));
        }

        if (json)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                writer.WriteNumber("clients", clients);
                writer.WriteNumber("dim", dim);
                writer.WriteNumber("byzantine", byzantine);
                writer.WriteNumber("runs", runs);
                writer.WriteStartObject("methods");
                foreach (var (name, ms) in results)
                {
                    writer.WriteNumber(name, Math.Round(ms, 3));
                }

                writer.WriteEndObject();
                writer.WriteStartObject("skipped");
                foreach (var (name, reason) in skipped)
                {
                    writer.WriteString(name, reason);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{clients} clients × {dim} float32, f = {byzantine}, median of {runs} runs after two warm-up runs, {Environment.ProcessorCount} cores"));
            foreach (var (name, ms) in results)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-18} {ms,10:F1} ms"));
            }

            foreach (var (name, reason) in skipped)
            {
                Console.Out.WriteLine($"  {name,-18} skipped: {reason}");
            }
        }

        return 0;
    }

    /// <summary>Runs the method once on n one-value updates, so that a precondition on n or f fails before any data is generated.</summary>
    private static void Probe(IAggregator aggregator, int clients)
    {
        var tiny = new ReadOnlyMemory<float>[clients];
        var weights = new double[clients];
        for (int i = 0; i < clients; i++)
        {
            tiny[i] = new[] { (float)i };
            weights[i] = 1;
        }

        aggregator.Aggregate(tiny, weights);
    }

    /// <summary>
    /// Standard normal float32 updates by Box–Muller from a seeded source (one fork per client, so the data does not
    /// depend on the thread schedule), and sample counts uniform in [50, 500) as weights.
    /// </summary>
    private static (ReadOnlyMemory<float>[] Updates, double[] Weights) SyntheticUpdates(int clients, int dim, ulong seed)
    {
        var root = new SeededRandomSource(seed);
        var updates = new ReadOnlyMemory<float>[clients];
        Parallel.For(0, clients, i =>
        {
            var random = root.Fork((ulong)i);
            var values = new float[dim];
            for (int j = 0; j < dim; j += 2)
            {
                double u1 = 1.0 - random.NextDouble(); // in (0, 1], so the logarithm is finite
                double u2 = random.NextDouble();
                double radius = Math.Sqrt(-2.0 * Math.Log(u1));
                var (sin, cos) = Math.SinCos(2.0 * Math.PI * u2);
                values[j] = (float)(radius * cos);
                if (j + 1 < dim)
                {
                    values[j + 1] = (float)(radius * sin);
                }
            }

            updates[i] = values;
        });

        var weightSource = root.Fork((ulong)clients);
        var weights = new double[clients];
        for (int i = 0; i < clients; i++)
        {
            weights[i] = 50 + weightSource.NextInt32(450);
        }

        return (updates, weights);
    }
}
