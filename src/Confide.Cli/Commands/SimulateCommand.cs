using System.CommandLine;
using System.Globalization;
using Confide.Privacy;
using Confide.SecureAggregation;
using Confide.Training;
using Confide.Training.Attacks;
using Confide.Training.Partitioning;
using Confide.Training.Simulation;
using Spectre.Console;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide simulate</c>: a federated run in one process. The orchestration lives in
/// <see cref="FederatedSimulation"/>; this command maps options, prints progress and the summary, and writes the files.
/// </summary>
internal static class SimulateCommand
{
    /// <summary>The target ε of a default run (δ = 1e-5), spent over all rounds.</summary>
    private const double DefaultEpsilon = 8.0;

    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "digits (embedded, default) or fashion-mnist", DefaultValueFactory = _ => "digits" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory with the Fashion-MNIST IDX files (default: the Debian package's)" };
        var model = new Option<string>("--model") { Description = ModelCatalog.Syntax, DefaultValueFactory = _ => "mlp" };
        var clients = new Option<int>("--clients") { Description = "Number of clients N", DefaultValueFactory = _ => 100 };
        var rounds = new Option<int>("--rounds") { Description = "Number of rounds R", DefaultValueFactory = _ => 20 };
        var fraction = new Option<double>("--fraction") { Description = "Fraction of clients sampled per round, in (0, 1]", DefaultValueFactory = _ => 1.0 };
        var epochs = new Option<int>("--local-epochs") { Description = "Local epochs E per round", DefaultValueFactory = _ => 5 };
        var batch = new Option<int>("--batch") { Description = "Local batch size B", DefaultValueFactory = _ => 16 };
        var lr = new Option<double>("--lr") { Description = "Local learning rate", DefaultValueFactory = _ => 0.05 };
        var momentum = new Option<double>("--momentum") { Description = "Local SGD momentum", DefaultValueFactory = _ => 0.9 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Local L2 weight decay", DefaultValueFactory = _ => 0.0 };
        var proxMu = new Option<double>("--prox-mu") { Description = "FedProx proximal term μ (0 = FedAvg)", DefaultValueFactory = _ => 0.0 };
        var partition = new Option<string>("--partition") { Description = PartitionerCatalog.Syntax, DefaultValueFactory = _ => "iid" };
        var aggregator = new Option<string>("--aggregator") { Description = AggregatorSpelling.Syntax, DefaultValueFactory = _ => "fedavg" };
        var byzantine = new Option<int?>("--byzantine") { Description = "f assumed by robust aggregators (default: --malicious)" };
        var attack = new Option<string?>("--attack") { Description = AttackCatalog.Syntax };
        var malicious = new Option<int>("--malicious") { Description = "Number of malicious clients m", DefaultValueFactory = _ => 0 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of every random draw (runs are reproducible)", DefaultValueFactory = _ => 1UL };
        var rootSize = new Option<int>("--root-size") { Description = "Server root set size (FLTrust)", DefaultValueFactory = _ => 100 };
        var dpNoise = new Option<double?>("--dp-noise") { Description = "DP-FedAvg noise multiplier z (noise z·C on the sum); turns DP on" };
        var dpEpsilon = new Option<double?>("--dp-epsilon") { Description = $"DP-FedAvg target ε for the whole run (z is calibrated) [default with fedavg: {DefaultEpsilon}, unless --dp-noise or --no-dp]" };
        var noDp = new Option<bool>("--no-dp") { Description = "Turn DP-FedAvg off (it is on by default with fedavg)" };
        var dpDelta = new Option<double>("--dp-delta") { Description = "δ for DP accounting", DefaultValueFactory = _ => 1e-5 };
        var dpMode = new Option<string>("--dp-mode") { Description = "Where DP noise is added with --secure-agg: central (the server noises the sum, DP-FedAvg) or distributed (each client adds discrete Gaussian noise before masking; Kairouz et al. 2021)", DefaultValueFactory = _ => "central" };
        var dpMinSurvivors = new Option<int?>("--dp-min-survivors") { Description = "Distributed DP: fewest survivors the per-client noise is calibrated for (default: clients per round); rounds with fewer are charged for their count" };
        var adaptiveQuantile = new Option<double?>("--dp-adaptive-quantile") { Description = "Central DP: adapt the clip norm (starting at --clip) to this quantile γ of the update norms (Andrew et al. 2021); each client reports whether its norm was at most C (inside the secure sum with --secure-agg)" };
        var adaptiveLr = new Option<double?>("--dp-adaptive-lr") { Description = "Adaptive clipping: geometric learning rate η of C ← C·exp(−η(b̄ − γ)) [default: 0.2]" };
        var countNoise = new Option<double?>("--dp-count-noise") { Description = "Adaptive clipping: noise σ_b on the count of clients under C; needs 2σ_b > z [default: clients per round / 20]" };
        var serverClip = new Option<bool>("--dp-server-clip") { Description = "Central DP without secure aggregation: the server clips the raw updates (and sees their norms) instead of the clients" };
        var clip = new Option<double>("--clip") { Description = "L2 clip norm C of each update under DP", DefaultValueFactory = _ => 1.0 };
        var secureAgg = new Option<bool>("--secure-agg") { Description = "Sum updates through the secure-aggregation protocol (in process, real crypto); on by default with fedavg" };
        var noSecureAgg = new Option<bool>("--no-secure-agg") { Description = "Turn secure aggregation off (it is on by default with fedavg)" };
        var neighbours = new Option<int?>("--neighbours") { Description = "SecAgg+ neighbourhood size k (default: ⌈2·log2 N⌉ rounded up to even, Bell et al.; N − 1 is the full graph)" };
        var secAggClip = new Option<double>("--secagg-clip") { Description = "Per-coordinate clip range c before quantizing (SecAgg without DP)", DefaultValueFactory = _ => 1.0 };
        var sweepAttacks = new Option<string?>("--sweep-attacks") { Description = "Robustness sweep: comma-separated attacks (use none for a clean row); one run per attack × aggregator" };
        var sweepAggregators = new Option<string?>("--sweep-aggregators") { Description = "Robustness sweep: comma-separated aggregators (default: --aggregator)" };
        var output = new Option<string?>("--out") { Description = "Directory for metrics.csv, summary.json and the PNG plots" };
        var json = new Option<bool>("--json") { Description = "Print summary.json to stdout instead of the table" };

        var command = new Command("simulate", "Train a model across simulated clients, with robust aggregation and attacks, and report accuracy per round.");
        foreach (var option in new Option[] { dataset, dataDir, model, clients, rounds, fraction, epochs, batch, lr, momentum, weightDecay, proxMu, partition, aggregator, byzantine, attack, malicious, seed, rootSize, dpNoise, dpEpsilon, noDp, dpDelta, dpMode, dpMinSurvivors, adaptiveQuantile, adaptiveLr, countNoise, serverClip, clip, secureAgg, noSecureAgg, neighbours, secAggClip, sweepAttacks, sweepAggregators, output, json })
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            // Defaults: DP and secure aggregation are on, as a deployment would run; robust aggregators need each
            // update, so secure aggregation stays off for them unless asked for (which the simulation then refuses).
            string aggregatorName = parse.GetValue(aggregator)!;
            bool dpOff = parse.GetValue(noDp);
            if (dpOff && (parse.GetValue(dpNoise) is not null || parse.GetValue(dpEpsilon) is not null))
            {
                throw new CliException("--no-dp cannot be combined with --dp-noise or --dp-epsilon.", 2);
            }

            if (parse.GetValue(noSecureAgg) && parse.GetValue(secureAgg))
            {
                throw new CliException("--no-secure-agg cannot be combined with --secure-agg.", 2);
            }

            bool sweeping = parse.GetValue(sweepAttacks) is not null || parse.GetValue(sweepAggregators) is not null;
            DpPlacement placement = parse.GetValue(dpMode)!.Trim().ToLowerInvariant() switch
            {
                "central" => DpPlacement.Central,
                "distributed" => DpPlacement.Distributed,
                var other => throw new CliException($"--dp-mode {other}: expected central or distributed.", 2),
            };

            if (placement == DpPlacement.Distributed && parse.GetValue(noSecureAgg))
            {
                throw new CliException("--dp-mode distributed adds each client's noise before secure-aggregation masking; it cannot be combined with --no-secure-agg.", 2);
            }

            if (placement == DpPlacement.Distributed && dpOff)
            {
                throw new CliException("--dp-mode distributed cannot be combined with --no-dp.", 2);
            }

            if (placement == DpPlacement.Central && parse.GetValue(dpMinSurvivors) is not null)
            {
                throw new CliException("--dp-min-survivors applies to --dp-mode distributed only.", 2);
            }

            if (placement == DpPlacement.Distributed && parse.GetValue(adaptiveQuantile) is not null)
            {
                throw new CliException("--dp-adaptive-quantile works with central DP only; it is not combined with --dp-mode distributed yet.", 2);
            }

            if (parse.GetValue(serverClip) && parse.GetValue(secureAgg))
            {
                throw new CliException("--dp-server-clip cannot be combined with --secure-agg: the server never sees an update to clip.", 2);
            }

            // Server-side clipping needs the server to see each update, so it turns the default secure aggregation off.
            bool secure = parse.GetValue(secureAgg) || (!parse.GetValue(noSecureAgg) && !sweeping && !parse.GetValue(serverClip) && aggregatorName == "fedavg");
            bool dpByDefault = !dpOff && !sweeping && aggregatorName == "fedavg" && parse.GetValue(dpNoise) is null;
            double? epsilon = parse.GetValue(dpEpsilon) ?? (dpByDefault ? DefaultEpsilon : null);
            int clientCount = parse.GetValue(clients);
            int? degree = parse.GetValue(neighbours) ?? (secure && clientCount >= 2 ? NeighbourGraph.RecommendedDegree(clientCount) : null);

            SimulationOptions options;
            try
            {
                options = new SimulationOptions
                {
                    Dataset = parse.GetValue(dataset)!,
                    DataDirectory = parse.GetValue(dataDir),
                    Model = parse.GetValue(model)!,
                    Clients = clientCount,
                    Rounds = parse.GetValue(rounds),
                    Fraction = parse.GetValue(fraction),
                    Training = new TrainingOptions
                    {
                        Epochs = parse.GetValue(epochs),
                        BatchSize = parse.GetValue(batch),
                        LearningRate = parse.GetValue(lr),
                        Momentum = parse.GetValue(momentum),
                        WeightDecay = parse.GetValue(weightDecay),
                        ProximalMu = parse.GetValue(proxMu),
                    },
                    Partition = parse.GetValue(partition)!,
                    Aggregator = aggregatorName,
                    Byzantine = parse.GetValue(byzantine),
                    Attack = parse.GetValue(attack),
                    Malicious = parse.GetValue(malicious),
                    Seed = parse.GetValue(seed),
                    RootSize = parse.GetValue(rootSize),
                    DpNoiseMultiplier = parse.GetValue(dpNoise),
                    DpEpsilon = epsilon,
                    DpDelta = parse.GetValue(dpDelta),
                    ClipNorm = parse.GetValue(clip),
                    DpPlacement = placement,
                    DpMinimumSurvivors = parse.GetValue(dpMinSurvivors),
                    DpAdaptiveQuantile = parse.GetValue(adaptiveQuantile),
                    DpAdaptiveLearningRate = parse.GetValue(adaptiveLr),
                    DpCountNoise = parse.GetValue(countNoise),
                    DpServerSideClipping = parse.GetValue(serverClip),
                    SecureAggregation = secure,
                    Neighbours = degree,
                    SecAggClipRange = parse.GetValue(secAggClip),
                };
            }
            catch (ArgumentOutOfRangeException ex)
            {
                // Map the property name back to the option the user typed.
                throw new CliException($"--{OptionName(ex.ParamName)}: {ex.Message.Split(" (Parameter", 2)[0].Split(Environment.NewLine)[0]}", 2);
            }

            bool asJson = parse.GetValue(json);
            string? attackList = parse.GetValue(sweepAttacks);
            string? aggregatorList = parse.GetValue(sweepAggregators);
            if (attackList is not null || aggregatorList is not null)
            {
                return Sweep(options, attackList, aggregatorList, parse.GetValue(output), asJson);
            }

            FederatedSimulation simulation;
            try
            {
                simulation = new FederatedSimulation(options);
            }
            catch (ArgumentOutOfRangeException ex)
            {
                // Keep the explanation, drop .NET's "(Parameter 'x') Actual value was …" tail.
                throw new CliException(ex.Message.Split(" (Parameter", 2)[0], 2);
            }

            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out), Interactive = InteractionSupport.No });
            if (!asJson)
            {
                Console.Out.WriteLine(
                    $"{options.Dataset}: {simulation.Data.Clients.Count} client samples, {simulation.Data.Test.Count} test; {simulation.Model.Name} ({simulation.Model.Layout.TotalLength} weights); " +
                    $"{options.Clients} clients ({options.ClientsPerRound} per round), {options.Partition}, {options.Aggregator}" +
                    (options.Attack is null ? "" : $", attack {options.Attack} by {options.Malicious} (clients {string.Join(' ', simulation.MaliciousClients)})") +
                    (options.SecureAggregation ? $", secure aggregation ({(options.Neighbours is int k ? $"SecAgg+ k = {k}" : "full graph")})" : "") +
                    (simulation.Privacy is { Distributed: { } ddp } dd
                        ? $", distributed DP: each client adds N_Z(0, σ²) with σ = {ddp.ClientSigma:G6} quanta (scale 2^{Math.Log2(ddp.Scale):F0}, n_min = {ddp.MinimumSurvivors}, Δ₂ = {ddp.L2Sensitivity:G6}; effective z = {dd.NoiseMultiplier:G4}), C = {dd.ClipNorm:G4}, q = {dd.SampleRate:G4}, δ = {dd.Delta:G3}"
                        : simulation.Privacy is { } dp ? $", DP-FedAvg z = {dp.NoiseMultiplier:G4}, C = {dp.ClipNorm:G4}, q = {dp.SampleRate:G4}, δ = {dp.Delta:G3}" + AdaptiveText(options) : ""));
            }

            string Line(RoundMetrics r) =>
                $"round {r.Round,3}/{options.Rounds}  accuracy {r.Accuracy:F4}  loss {r.Loss:F4}  flagged {r.Flagged.Count}" +
                (r.MaliciousParticipants > 0 ? $" ({r.Flagged.Count(f => f.Malicious)} of {r.MaliciousParticipants} malicious)" : "") +
                (r.BackdoorSuccessRate is double asr ? $"  backdoor ASR {asr:F3}" : "") +
                (r.Extra.TryGetValue("epsilon", out double eps) ? $"  ε {eps:F3}" : "") +
                (r.Extra.TryGetValue("clip_norm", out double c) ? $"  C {c:G4}" : "") +
                $"  {r.Seconds:F2} s";

            SimulationResult result;
            if (asJson)
            {
                result = simulation.Run();
            }
            else if (!Console.IsOutputRedirected)
            {
                // On a terminal: a live Spectre progress bar, with each finished round printed above it.
                result = AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("round 1", maxValue: options.Rounds);
                        string last = "";
                        return simulation.Run(
                            r =>
                            {
                                AnsiConsole.WriteLine(Line(r));
                                last = $", accuracy {r.Accuracy:F3}" + (r.Extra.TryGetValue("epsilon", out double e) ? $", ε {e:F2}" : "");
                                task.Increment(1);
                            },
                            clientDone: (round, done, total) => task.Description = Markup.Escape($"round {round}/{options.Rounds}: {done}/{total} clients trained{last}"));
                    });
            }
            else
            {
                result = simulation.Run(r => Console.Out.WriteLine(Line(r)));
            }

            string? outDir = parse.GetValue(output);
            if (outDir is not null)
            {
                SimulationReport.Write(result, outDir);
                SimulationPlots.Write(result, outDir);
            }

            if (asJson)
            {
                Console.Out.WriteLine(SimulationReport.SummaryJson(result));
                return 0;
            }

            var table = new Table().AddColumn("metric").AddColumn("value");
            table.AddRow("final accuracy", result.FinalAccuracy.ToString("F4", CultureInfo.InvariantCulture));
            table.AddRow("final loss", result.FinalLoss.ToString("F4", CultureInfo.InvariantCulture));
            if (result.Rounds[^1].BackdoorSuccessRate is double finalAsr)
            {
                table.AddRow("backdoor success rate", finalAsr.ToString("F4", CultureInfo.InvariantCulture));
            }

            if (result.Privacy is { } privacy)
            {
                table.AddRow("ε spent (δ)", $"{result.Rounds[^1].Extra["epsilon"]:F4} ({privacy.Delta:G3})");
            }

            if (options.SecureAggregation)
            {
                table.AddRow("SecAgg per round (client / server)", $"{result.Rounds.Average(r => r.Extra.GetValueOrDefault("secagg_client_ms")):F1} ms / {result.Rounds.Average(r => r.Extra.GetValueOrDefault("secagg_server_ms")):F1} ms");
            }

            table.AddRow("flagged (malicious / all)", $"{result.Rounds.Sum(r => r.Flagged.Count(f => f.Malicious))} / {result.Rounds.Sum(r => r.Flagged.Count)}");
            table.AddRow("rounds", result.Rounds.Count.ToString(CultureInfo.InvariantCulture));
            table.AddRow("mean round time", $"{result.Rounds.Average(r => r.Seconds):F3} s");
            table.AddRow("total time", $"{result.TotalSeconds:F2} s");
            if (outDir is not null)
            {
                table.AddRow("files", Markup.Escape($"metrics.csv, summary.json, accuracy.png{(result.Privacy is null ? "" : ", epsilon.png")} in {outDir}"));
            }

            console.Write(table);
            return 0;
        });
        return command;
    }

    private static int Sweep(SimulationOptions options, string? attackList, string? aggregatorList, string? outDir, bool asJson)
    {
        static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var attacks = attackList is null ? [options.Attack ?? "none"] : Split(attackList);
        var aggregators = aggregatorList is null ? [options.Aggregator] : Split(aggregatorList);
        var cells = SimulationSweep.Run(options, attacks, aggregators, asJson ? null : c => Console.Out.WriteLine(
            $"{c.Attack} × {c.Aggregator}: " + (c.FinalAccuracy is double a ? a.ToString("F4", CultureInfo.InvariantCulture) : $"n/a ({c.Error})")));
        string markdown = SimulationSweep.Markdown(cells);
        if (outDir is not null)
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, "sweep.md"), markdown);
            File.WriteAllText(Path.Combine(outDir, "sweep.csv"), SimulationSweep.Csv(cells));
        }

        if (asJson)
        {
            Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(cells.Select(c => new Dictionary<string, object?>
            {
                ["attack"] = c.Attack,
                ["aggregator"] = c.Aggregator,
                ["final_accuracy"] = c.FinalAccuracy,
                ["backdoor_asr"] = c.BackdoorSuccessRate,
                ["error"] = c.Error,
            }).ToList(), CliJsonContext.Default.ListDictionaryStringObject));
        }
        else
        {
            Console.Out.WriteLine();
            Console.Out.Write(markdown);
        }

        return 0;
    }

    /// <summary>The adaptive-clipping part of the run's header line, or "".</summary>
    private static string AdaptiveText(SimulationOptions options) => options.DpAdaptiveQuantile is double quantile
        ? $" (adaptive: γ = {quantile:G4}, η = {options.DpAdaptiveLearningRate ?? AdaptiveClippingOptions.DefaultLearningRate:G4}, σ_b = {options.DpCountNoise ?? AdaptiveClippingOptions.DefaultCountNoise(options.ClientsPerRound):G4}; z is the effective multiplier charged)" +
          (options.DpServerSideClipping ? ", server-side clipping" : "")
        : options.DpServerSideClipping ? ", server-side clipping" : "";

    private static string OptionName(string? property) => property switch
    {
        "Epochs" => "local-epochs",
        "BatchSize" => "batch",
        "LearningRate" => "lr",
        "WeightDecay" => "weight-decay",
        "ProximalMu" => "prox-mu",
        "RootSize" => "root-size",
        "Neighbours" => "neighbours",
        "DpMinimumSurvivors" => "dp-min-survivors",
        null => "option",
        _ => property.ToLowerInvariant(),
    };
}
