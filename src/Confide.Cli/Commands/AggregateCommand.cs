using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Confide.Aggregation;
using Confide.Parameters;
using Confide.Updates;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide aggregate</c>: offline aggregation of saved updates (safetensors files), for researchers and for checking us.
/// Every input passes <see cref="UpdateValidator"/> first; the aggregate is written as safetensors with the first input's
/// names and shapes. Indices in the report follow the order of the inputs.
/// </summary>
internal static class AggregateCommand
{
    public static Command Create()
    {
        var method = new Option<string>("--method", "-m")
        {
            Description = $"The aggregation method: {string.Join(", ", AggregatorCatalog.Methods)}.",
            Required = true,
            HelpName = "method",
        };
        method.AcceptOnlyFromAmong([.. AggregatorCatalog.Methods]);
        var byzantine = new Option<int>("--byzantine", "-f")
        {
            Description = "f, the number of Byzantine inputs tolerated (krum, multi-krum, bulyan).",
            DefaultValueFactory = _ => 0,
        };
        var select = new Option<int?>("--select") { Description = "m, how many of the best-scored inputs multi-krum averages (required for multi-krum)." };
        var trimRatio = new Option<double>("--trim-ratio")
        {
            Description = "β, the fraction trimmed from each side by trimmed-mean: ⌊β·n⌋ values per side, 0 ≤ β ≤ 0.5.",
            DefaultValueFactory = _ => 0.1,
        };
        var weights = new Option<string?>("--weights")
        {
            Description = "Comma-separated sample counts, one per input file in order (default 1 each); for fedavg and geometric-median, the methods that weight.",
        };
        var serverUpdate = new Option<string?>("--server-update")
        {
            Description = "The server's update on its root data set, as safetensors (required for fltrust).",
        };
        var normBound = new Option<double?>("--norm-bound") { Description = "Clip every update to this L2 norm before aggregating (Sun et al. 2019)." };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the aggregate (safetensors).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {\"method\", \"clients\", \"selected\", \"flagged\", \"reasons\", \"scores\"} as JSON." };
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "The client updates, as safetensors files, all with the same tensor names and shapes.",
            Arity = ArgumentArity.OneOrMore,
        };

        var command = new Command("aggregate", "Aggregate saved client updates (safetensors) with a robust or plain method.")
        {
            method, byzantine, select, trimRatio, weights, serverUpdate, normBound, output, json, inputs,
        };
        command.SetAction(parse =>
        {
            string chosen = parse.GetValue(method)!;
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            if (Given(byzantine) && !AggregatorCatalog.UsesByzantine(chosen))
            {
                throw new CliException($"--byzantine applies only to krum, multi-krum and bulyan, not {chosen}.", 2);
            }

            if (Given(trimRatio) && chosen != "trimmed-mean")
            {
                throw new CliException($"--trim-ratio applies only to trimmed-mean, not {chosen}.", 2);
            }

            if (Given(weights) && !AggregatorCatalog.UsesWeights(chosen))
            {
                throw new CliException($"--weights applies only to fedavg and geometric-median; {chosen} does not weight its inputs.", 2);
            }

            if (Given(select) && chosen != "multi-krum")
            {
                throw new CliException($"--select applies only to multi-krum, not {chosen}.", 2);
            }

            if (chosen == "multi-krum" && !Given(select))
            {
                throw new CliException("multi-krum needs --select m, the number of best-scored inputs to average.", 2);
            }

            string? serverPath = parse.GetValue(serverUpdate);
            if (serverPath is not null && chosen != "fltrust")
            {
                throw new CliException($"--server-update applies only to fltrust, not {chosen}.", 2);
            }

            if (serverPath is null && chosen == "fltrust")
            {
                throw new CliException("fltrust needs --server-update root.safetensors, the server's update on its root data set.", 2);
            }

            var request = new Request(
                chosen,
                parse.GetValue(byzantine),
                parse.GetValue(select),
                parse.GetValue(trimRatio),
                parse.GetValue(weights),
                serverPath,
                parse.GetValue(normBound),
                parse.GetValue(output)!,
                parse.GetValue(json),
                parse.GetValue(inputs) ?? []);
            return Run(request);
        });
        return command;
    }

    private static int Run(Request request)
    {
        var paths = request.Inputs;
        long[] counts = ParseWeights(request.Weights, paths.Length);
        AggregatorSettings settings;
        try
        {
            settings = new AggregatorSettings(request.Method, request.Byzantine, request.Select, request.TrimRatio, NormBound: request.NormBound);
        }
        catch (ArgumentException ex)
        {
            throw new CliException(PlainMessage(ex), 2);
        }

        int minimum = AggregatorCatalog.MinimumClients(settings);
        if (paths.Length < minimum)
        {
            throw new CliException(
                $"{request.Method} with f = {request.Byzantine}{(request.Select is int m ? $" and m = {m}" : "")} needs at least {minimum} inputs, got {paths.Length}.", 2);
        }

        // The first file fixes the layout; later files may list the same tensors in another order.
        var first = Load(paths[0]);
        var layout = first.Parameters.Layout;
        var updates = new List<ClientUpdate> { new(paths[0], first.Parameters, counts[0]) };
        for (int i = 1; i < paths.Length; i++)
        {
            updates.Add(new ClientUpdate(paths[i], Conform(paths[i], Load(paths[i]).Parameters, layout, paths[0]), counts[i]));
        }

        var validation = new UpdateValidator(new UpdateValidationOptions(layout, UpdateValidationOptions.LargestMaxSampleCount)).Validate(updates);
        if (!validation.AllAccepted)
        {
            var rejected = validation.Rejected[0];
            string more = validation.Rejected.Count > 1 ? $" ({validation.Rejected.Count - 1} more input(s) rejected too)" : "";
            throw new CliException($"{paths[rejected.Index]}: {rejected.Reason}{more}.");
        }

        if (request.ServerUpdate is string serverPath)
        {
            var server = Conform(serverPath, Load(serverPath).Parameters, layout, paths[0]);
            string? problem = new UpdateValidator(new UpdateValidationOptions(layout)).Check(new ClientUpdate("server", server, 1));
            if (problem is not null)
            {
                throw new CliException($"{serverPath}: {problem}.");
            }

            settings = settings with { ServerUpdate = server.AsMemory() };
        }

        IAggregator aggregator;
        AggregationResult result;
        try
        {
            aggregator = AggregatorCatalog.Create(settings);
            var vectors = updates.Select(u => (ReadOnlyMemory<float>)u.Delta.AsMemory()).ToList();
            double[] weights = [.. counts.Select(c => (double)c)];
            result = aggregator.Aggregate(vectors, weights);
        }
        catch (ArgumentException ex)
        {
            // The method's preconditions (too few inputs for f, all-zero FLTrust trust, …) are the user's to fix.
            throw new CliException(PlainMessage(ex), 2);
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["confide.method"] = aggregator.Name,
            ["confide.clients"] = paths.Length.ToString(CultureInfo.InvariantCulture),
            ["confide.selected"] = string.Join(',', result.Selected),
        };
        WriteOutput(request.Output, new ModelParameters(layout, result.Aggregate), metadata);

        if (request.Json)
        {
            PrintJson(aggregator.Name, paths.Length, result);
        }
        else
        {
            Console.WriteLine($"{aggregator.Name}: {paths.Length} inputs, selected [{string.Join(", ", result.Selected)}], wrote {request.Output}");
            foreach (var flagged in result.Flagged)
            {
                Console.WriteLine($"  flagged {flagged.Index} ({paths[flagged.Index]}): {flagged.Reason}");
            }
        }

        return 0;
    }

    /// <summary>The message without the " (Parameter 'x')" and "Actual value was …" that ArgumentException appends.</summary>
    private static string PlainMessage(ArgumentException ex)
    {
        string message = ex.Message;
        int cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        int actual = message.IndexOf(Environment.NewLine + "Actual value was", StringComparison.Ordinal);
        return actual >= 0 ? message[..actual] : message;
    }

    private static long[] ParseWeights(string? text, int count)
    {
        var counts = new long[count];
        if (text is null)
        {
            Array.Fill(counts, 1L);
            return counts;
        }

        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != count)
        {
            throw new CliException($"--weights has {parts.Length} value(s) for {count} input file(s); give one sample count per file.", 2);
        }

        for (int i = 0; i < count; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out counts[i]) || counts[i] <= 0)
            {
                throw new CliException($"--weights value {i + 1} is '{parts[i]}'; expected a positive whole sample count.", 2);
            }
        }

        return counts;
    }

    private static SafetensorsContent Load(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return Safetensors.Read(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException($"{path}: no such file.");
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: {ex.Message}");
        }
    }

    /// <summary>Returns <paramref name="parameters"/> under <paramref name="layout"/>, reordering tensors by name if needed.</summary>
    private static ModelParameters Conform(string path, ModelParameters parameters, ParameterLayout layout, string firstPath)
    {
        if (parameters.Layout.Equals(layout))
        {
            return parameters;
        }

        bool sameTensors = parameters.Layout.Tensors.Count == layout.Tensors.Count
            && parameters.Layout.Tensors.All(t => layout.Contains(t.Name) && layout[t.Name].Shape.SequenceEqual(t.Shape));
        if (!sameTensors)
        {
            throw new CliException($"{path}: its tensors differ from those of {firstPath}: {layout.DescribeDifference(parameters.Layout)}.");
        }

        return ModelParameters.FromDictionary(layout, parameters.ToDictionary());
    }

    private static void WriteOutput(string path, ModelParameters aggregate, Dictionary<string, string> metadata)
    {
        // Write beside the target and move into place, so a failure never leaves half a file under the output name.
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = File.Create(temporary))
            {
                Safetensors.Write(stream, aggregate, metadata);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }

            throw new CliException($"{path}: cannot write the output: {ex.Message}");
        }
    }

    private static void PrintJson(string method, int clients, AggregationResult result)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("method", method);
            writer.WriteNumber("clients", clients);
            writer.WriteStartArray("selected");
            foreach (int i in result.Selected)
            {
                writer.WriteNumberValue(i);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("flagged");
            foreach (int i in result.Flagged.Select(f => f.Index).Distinct().Order())
            {
                writer.WriteNumberValue(i);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("reasons");
            foreach (var flagged in result.Flagged)
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", flagged.Index);
                writer.WriteString("reason", flagged.Reason);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            if (result.Scores is { } scores)
            {
                writer.WriteStartArray("scores");
                foreach (double s in scores)
                {
                    if (double.IsFinite(s))
                    {
                        writer.WriteNumberValue(s);
                    }
                    else
                    {
                        writer.WriteNullValue();
                    }
                }

                writer.WriteEndArray();
            }
            else
            {
                writer.WriteNull("scores");
            }

            writer.WriteEndObject();
        }

        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private sealed record Request(
        string Method,
        int Byzantine,
        int? Select,
        double TrimRatio,
        string? Weights,
        string? ServerUpdate,
        double? NormBound,
        string Output,
        bool Json,
        string[] Inputs);
}
