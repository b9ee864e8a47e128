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
    internal static readonly string[] AggregatorMethods = ["fedavg", "median", "trimmed-mean", "geometric-median", "norm-bound"];

    public static Command Create()
    {
        var bench = new Command("bench", "Measure the speed of confide's kernels on seeded synthetic data.");
        bench.Subcommands.Add(CreateAggregators());
        return bench;
    }

    /// <summary>
    /// The one place that turns a method name into an aggregator for the benchmark. <paramref name="byzantine"/> is the
    /// number of Byzantine clients f the method should tolerate.
    /// </summary>
    internal static IAggregator CreateAggregator(string method, int clients, int dimension, int byzantine) => method switch
    {
        "fedavg" => new FedAvg(),
        "median" => new CoordinateMedian(),
        // β = f/n trims exactly f per side (TrimmedMean absorbs the rounding of f/n·n).
        "trimmed-mean" => new TrimmedMean((double)byzantine / clients),
        "geometric-median" => new GeometricMedian(),
        // Standard normal updates have norm ≈ √d, so this bound clips about half of them.
        "norm-bound" => new NormBound(Math.Sqrt(dimension), new FedAvg()),
        _ => throw new CliException($"unknown method '{method}'; expected one of {string.Join(", ", AggregatorMethods)}.", 2),
    };

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

        var aggregators = new List<(string Name, IAggregator Aggregator)>();
        foreach (string name in names)
        {
            IAggregator aggregator;
            try
            {
                aggregator = CreateAggregator(name, clients, dim, byzantine);
                Probe(aggregator, clients);
            }
            catch (ArgumentException ex)
            {
                // ArgumentException appends " (Parameter 'x')", which means nothing to a CLI user.
                string reason = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", "", StringComparison.Ordinal);
                throw new CliException($"{name} cannot run with --clients {clients} --byzantine {byzantine}: {reason}", 2);
            }

            aggregators.Add((name, aggregator));
        }

        var (updates, weights) = SyntheticUpdates(clients, dim, seed);
        var results = new List<(string Name, double Milliseconds)>();
        foreach (var (name, aggregator) in aggregators)
        {
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
