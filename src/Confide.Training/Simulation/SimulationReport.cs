using System.Globalization;
using System.Text;
using System.Text.Json;
using Confide.Privacy;

namespace Confide.Training.Simulation;

/// <summary>Writes a run's results: <c>metrics.csv</c> (one row per round) and <c>summary.json</c>.</summary>
public static class SimulationReport
{
    /// <summary>Writes both files into <paramref name="directory"/> (created if needed) and returns their paths.</summary>
    public static (string Metrics, string Summary) Write(SimulationResult result, string directory)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        string metrics = Path.Combine(directory, "metrics.csv");
        string summary = Path.Combine(directory, "summary.json");
        File.WriteAllText(metrics, MetricsCsv(result));
        File.WriteAllText(summary, SummaryJson(result));
        return (metrics, summary);
    }

    /// <summary>One row per round: round, accuracy, loss, train loss, participants, malicious, flagged (benign/malicious), ASR, seconds, extras.</summary>
    public static string MetricsCsv(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var extraKeys = result.Rounds.SelectMany(r => r.Extra.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var sb = new StringBuilder();
        sb.Append("round,accuracy,loss,train_loss,participants,malicious,flagged,flagged_malicious,flagged_clients,backdoor_asr,seconds");
        foreach (string key in extraKeys)
        {
            sb.Append(',').Append(key);
        }

        sb.Append('\n');
        foreach (var r in result.Rounds)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{r.Round},{F(r.Accuracy)},{F(r.Loss)},{F(r.TrainLoss)},{r.Participants.Count},{r.MaliciousParticipants},");
            sb.Append(CultureInfo.InvariantCulture, $"{r.Flagged.Count},{r.Flagged.Count(f => f.Malicious)},{string.Join(' ', r.Flagged.Select(f => f.Client))},");
            sb.Append(r.BackdoorSuccessRate is double asr ? F(asr) : "").Append(',').Append(F(r.Seconds));
            foreach (string key in extraKeys)
            {
                sb.Append(',').Append(r.Extra.TryGetValue(key, out double v) ? F(v) : "");
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The summary as indented JSON with snake_case keys, including <c>final_accuracy</c>.</summary>
    public static string SummaryJson(SimulationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var o = result.Options;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("dataset", o.Dataset);
            w.WriteString("model", result.ModelName);
            w.WriteNumber("parameters", result.ParameterCount);
            w.WriteNumber("clients", o.Clients);
            w.WriteNumber("clients_per_round", o.ClientsPerRound);
            w.WriteNumber("rounds", o.Rounds);
            w.WriteNumber("local_epochs", o.Training.Epochs);
            w.WriteNumber("batch", o.Training.BatchSize);
            w.WriteNumber("lr", o.Training.LearningRate);
            w.WriteNumber("momentum", o.Training.Momentum);
            w.WriteString("partition", o.Partition);
            w.WriteString("aggregator", result.AggregatorName);
            w.WriteBoolean("secure_aggregation", o.SecureAggregation);
            if (o.SecureAggregation && o.Neighbours is int k)
            {
                w.WriteNumber("neighbours", k);
            }

            w.WriteNumber("byzantine", o.Byzantine ?? o.Malicious);
            if (result.AttackName is null)
            {
                w.WriteNull("attack");
            }
            else
            {
                w.WriteString("attack", result.AttackName);
            }

            w.WriteNumber("malicious", o.Malicious);
            w.WriteStartArray("malicious_clients");
            foreach (int c in result.MaliciousClients)
            {
                w.WriteNumberValue(c);
            }

            w.WriteEndArray();
            w.WriteNumber("seed", o.Seed);
            w.WriteNumber("test_samples", result.TestSamples);
            w.WriteNumber("final_accuracy", Round(result.FinalAccuracy));
            WriteNumberOrNull(w, "final_loss", result.FinalLoss);
            if (result.Rounds[^1].BackdoorSuccessRate is double asr)
            {
                w.WriteNumber("final_backdoor_asr", Round(asr));
            }

            if (result.Privacy is { } dp)
            {
                w.WriteNumber("epsilon", Round(result.Rounds[^1].Extra.GetValueOrDefault("epsilon", double.NaN)));
                w.WriteNumber("delta", dp.Delta);
                w.WriteNumber("noise_multiplier", Round(dp.NoiseMultiplier));
                w.WriteNumber("clip_norm", dp.ClipNorm);
                w.WriteNumber("sample_rate", Round(dp.SampleRate));
                w.WriteString("dp_mode", dp.Distributed is null ? "central" : "distributed");
                w.WriteString("clipping", o.DpServerSideClipping ? "server" : "client");
                if (o.DpAdaptiveQuantile is double quantile)
                {
                    // Adaptive clipping: clip_norm above is C₀; this is the C the last round left for the next.
                    w.WriteNumber("adaptive_quantile", quantile);
                    w.WriteNumber("adaptive_lr", o.DpAdaptiveLearningRate ?? AdaptiveClippingOptions.DefaultLearningRate);
                    w.WriteNumber("count_noise", o.DpCountNoise ?? AdaptiveClippingOptions.DefaultCountNoise(o.ClientsPerRound));
                    w.WriteNumber("final_clip_norm", Round(result.Rounds[^1].Extra.GetValueOrDefault("clip_norm", dp.ClipNorm)));
                }
                if (dp.Distributed is { } ddp)
                {
                    w.WriteNumber("client_sigma_quanta", Round(ddp.ClientSigma));
                    w.WriteNumber("quantizer_scale", ddp.Scale);
                    w.WriteNumber("min_survivors", ddp.MinimumSurvivors);
                    w.WriteNumber("l2_sensitivity_quanta", Round(ddp.L2Sensitivity));
                    w.WriteNumber("rounding_beta", Round(ddp.Beta));
                }
            }
            else
            {
                w.WriteNull("epsilon");
            }

            w.WriteNumber("total_seconds", Round(result.TotalSeconds));
            w.WriteNumber("mean_round_seconds", Round(result.Rounds.Average(r => r.Seconds)));
            w.WriteStartArray("rounds_detail");
            foreach (var r in result.Rounds)
            {
                w.WriteStartObject();
                w.WriteNumber("round", r.Round);
                w.WriteNumber("accuracy", Round(r.Accuracy));
                WriteNumberOrNull(w, "loss", r.Loss);
                WriteNumberOrNull(w, "train_loss", r.TrainLoss);
                w.WriteNumber("participants", r.Participants.Count);
                w.WriteNumber("malicious", r.MaliciousParticipants);
                if (r.BackdoorSuccessRate is double roundAsr)
                {
                    w.WriteNumber("backdoor_asr", Round(roundAsr));
                }

                w.WriteNumber("seconds", Round(r.Seconds));
                foreach (var (key, value) in r.Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    WriteNumberOrNull(w, key, value);
                }

                w.WriteStartArray("flagged");
                foreach (var f in r.Flagged)
                {
                    w.WriteStartObject();
                    w.WriteNumber("client", f.Client);
                    w.WriteBoolean("malicious", f.Malicious);
                    w.WriteString("reason", f.Reason);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, Round(value));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static double Round(double v) => Math.Round(v, 6);

    private static string F(double v) => double.IsFinite(v) ? v.ToString("0.######", CultureInfo.InvariantCulture) : "";
}
