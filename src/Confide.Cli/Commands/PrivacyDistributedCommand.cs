using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Confide.Privacy;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide privacy distributed</c>: accounting for the distributed discrete Gaussian mechanism (Kairouz, Liu, Steinke
/// 2021). With <c>--target-epsilon</c> it calibrates each client's σ in quanta; with <c>--client-sigma</c> it reports the ε
/// that σ spends.
/// </summary>
internal static class PrivacyDistributedCommand
{
    public static Command Create()
    {
        // Numbers are read as text and parsed here, so that a bad value gets one clear line instead of a usage page.
        var target = new Option<string?>("--target-epsilon") { Description = "Target ε for the whole run: calibrate σ (give this or --client-sigma)." };
        var clientSigma = new Option<string?>("--client-sigma") { Description = "Each client's discrete Gaussian σ in quanta: report ε (give this or --target-epsilon)." };
        var delta = new Option<string>("--delta") { Description = "δ in (0, 1).", DefaultValueFactory = _ => "1e-5" };
        var sampleRate = new Option<string>("--sample-rate") { Description = "Poisson sampling rate q of clients in (0, 1].", DefaultValueFactory = _ => "1" };
        var steps = new Option<string>("--steps") { Description = "Number of rounds T ≥ 1." };
        var survivors = new Option<string>("--min-survivors") { Description = "n_min: surviving clients whose noise each round is credited with." };
        var clip = new Option<string>("--clip") { Description = "L2 clip norm c of an update.", DefaultValueFactory = _ => "1" };
        var scale = new Option<string>("--scale") { Description = "Quantizer scale s (quanta per unit)." };
        var dimension = new Option<string>("--dim") { Description = "d: the number of noised coordinates." };
        var beta = new Option<string>("--beta") { Description = "Conditional-rounding β in [0, 1) (0: unconditional rounding).", DefaultValueFactory = _ => "0" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("distributed", "Distributed DP (discrete Gaussian noise added by each client under secure aggregation): calibrate σ per client, or the ε it spends.");
        foreach (var o in new Option[] { target, clientSigma, delta, sampleRate, steps, survivors, clip, scale, dimension, beta, json })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse =>
        {
            string? targetText = parse.GetValue(target), sigmaText = parse.GetValue(clientSigma);
            if ((targetText is null) == (sigmaText is null))
            {
                throw new CliException("Give exactly one of --target-epsilon (to calibrate σ) and --client-sigma (to get ε).", 2);
            }

            double d = PrivacyCommand.Number(parse.GetValue(delta), "--delta");
            double q = PrivacyCommand.Number(parse.GetValue(sampleRate), "--sample-rate");
            long t = (long)Whole(parse.GetValue(steps), "--steps");
            int n = (int)Whole(parse.GetValue(survivors), "--min-survivors");
            double c = PrivacyCommand.Number(parse.GetValue(clip), "--clip");
            double s = PrivacyCommand.Number(parse.GetValue(scale), "--scale");
            int dim = (int)Whole(parse.GetValue(dimension), "--dim");
            double b = PrivacyCommand.Number(parse.GetValue(beta), "--beta");
            try
            {
                double sigma = targetText is not null
                    ? DistributedNoiseCalibration.CalibrateClientSigma(PrivacyCommand.Number(targetText, "--target-epsilon"), d, q, t, n, c, s, dim, b)
                    : PrivacyCommand.Number(sigmaText, "--client-sigma");
                var entry = DistributedDiscreteGaussian.ForQuantizedUpdates(c, s, dim, b, sigma, n, q, t);
                var spent = DistributedDiscreteGaussian.GetPrivacySpent([entry], d);
                Print(parse.GetValue(json), entry, spent);
            }
            catch (ArgumentOutOfRangeException ex)
            {
                throw new CliException(ex.Message.Split(" (Parameter", 2)[0], 2);
            }

            return 0;
        });
        return command;
    }

    private static void Print(bool json, DistributedDiscreteGaussianSteps entry, PrivacySpent spent)
    {
        var values = new (string Name, double Value)[]
        {
            ("client_sigma", entry.ClientSigma),
            ("epsilon", spent.Epsilon),
            ("delta", spent.Delta),
            ("order", spent.Order),
            ("l2_sensitivity", entry.L2Sensitivity),
            ("l1_sensitivity", entry.L1Sensitivity),
            ("tau", entry.Tau),
            ("effective_noise_multiplier", entry.EffectiveNoiseMultiplier),
        };
        if (json)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                foreach (var (name, value) in values)
                {
                    if (double.IsFinite(value))
                    {
                        writer.WriteNumber(name, value);
                    }
                    else
                    {
                        writer.WriteNull(name);
                    }
                }

                writer.WriteEndObject();
            }

            Console.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            return;
        }

        foreach (var (name, value) in values)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {value:R}"));
        }
    }

    private static int Whole(string? text, string option)
    {
        if (text is null)
        {
            throw new CliException($"{option} is required.", 2);
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 1)
        {
            throw new CliException($"{option} must be a whole number of at least 1, got '{text}'.", 2);
        }

        return value;
    }
}
