using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Confide.Privacy;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide privacy epsilon</c> (ε spent by T steps of DP-SGD / DP-FedAvg) and <c>confide privacy noise</c> (the smallest
/// noise multiplier for a target ε), both through the RDP accountant.
/// </summary>
internal static class PrivacyCommand
{
    public static Command Create()
    {
        var command = new Command("privacy", "Differential-privacy accounting: the subsampled Gaussian mechanism (RDP accountant) and the distributed discrete Gaussian.");
        command.Subcommands.Add(CreateEpsilon());
        command.Subcommands.Add(CreateNoise());
        command.Subcommands.Add(PrivacyDistributedCommand.Create());
        return command;
    }

    private static Command CreateEpsilon()
    {
        // Numbers are read as text and parsed here, so that a bad value gets one clear line instead of a usage page.
        var sampleRate = new Option<string>("--sample-rate") { Description = "Poisson sampling rate q in [0, 1] (clients per round / population)." };
        var noise = new Option<string>("--noise-multiplier") { Description = "Noise multiplier σ > 0 (noise standard deviation / clip norm)." };
        var steps = new Option<string>("--steps") { Description = "Number of steps (rounds) T ≥ 0." };
        var delta = new Option<string>("--delta") { Description = "δ in (0, 1)." };
        var json = new Option<bool>("--json") { Description = "Print {\"epsilon\":…,\"order\":…}." };
        var command = new Command("epsilon", "Print the ε spent by T steps at sampling rate q and noise multiplier σ, and the best Rényi order.");
        foreach (var o in new Option[] { sampleRate, noise, steps, delta, json })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse =>
        {
            double q = SampleRate(parse.GetValue(sampleRate));
            double sigma = Positive(parse.GetValue(noise), "--noise-multiplier", "σ");
            long t = Steps(parse.GetValue(steps));
            double d = Delta(parse.GetValue(delta));
            var spent = RdpAccountant.GetPrivacySpent(q, sigma, t, d);
            if (parse.GetValue(json))
            {
                using var buffer = new MemoryStream();
                using (var writer = new Utf8JsonWriter(buffer))
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("epsilon", spent.Epsilon);
                    if (double.IsNaN(spent.Order))
                    {
                        writer.WriteNull("order");
                    }
                    else
                    {
                        writer.WriteNumber("order", spent.Order);
                    }

                    writer.WriteEndObject();
                }

                Console.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else
            {
                string order = double.IsNaN(spent.Order) ? "none (nothing released)" : spent.Order.ToString("R", CultureInfo.InvariantCulture);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epsilon: {spent.Epsilon:R}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"delta: {d:R}"));
                Console.WriteLine($"order: {order}");
            }

            return 0;
        });
        return command;
    }

    private static Command CreateNoise()
    {
        var target = new Option<string>("--target-epsilon") { Description = "Target ε > 0." };
        var delta = new Option<string>("--delta") { Description = "δ in (0, 1)." };
        var sampleRate = new Option<string>("--sample-rate") { Description = "Poisson sampling rate q in (0, 1]." };
        var steps = new Option<string>("--steps") { Description = "Number of steps (rounds) T ≥ 1." };
        var json = new Option<bool>("--json") { Description = "Print {\"noise_multiplier\":…}." };
        var command = new Command("noise", $"Print the smallest noise multiplier σ (to within {NoiseCalibration.DefaultTolerance:G}) that keeps T steps at rate q within (ε, δ).");
        foreach (var o in new Option[] { target, delta, sampleRate, steps, json })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse =>
        {
            double eps = Positive(parse.GetValue(target), "--target-epsilon", "ε");
            double d = Delta(parse.GetValue(delta));
            double q = SampleRate(parse.GetValue(sampleRate));
            if (q == 0)
            {
                throw new CliException("--sample-rate 0 releases nothing, so no noise is needed; give q in (0, 1].", 2);
            }

            long t = Steps(parse.GetValue(steps));
            if (t == 0)
            {
                throw new CliException("--steps 0 releases nothing, so no noise is needed; give T ≥ 1.", 2);
            }

            double sigma = NoiseCalibration.CalibrateNoiseMultiplier(eps, d, q, t);
            if (parse.GetValue(json))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"noise_multiplier\":{sigma:R}}}"));
            }
            else
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"noise_multiplier: {sigma:R}"));
            }

            return 0;
        });
        return command;
    }

    /// <summary>A finite number given to a privacy option, or a one-line error naming the option.</summary>
    internal static double Number(string? text, string option)
    {
        if (text is null)
        {
            throw new CliException($"{option} is required.", 2);
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw new CliException($"{option} must be a number, got '{text}'.", 2);
        }

        return value;
    }

    private static double SampleRate(string? text)
    {
        double q = Number(text, "--sample-rate");
        return q is >= 0 and <= 1 ? q : throw new CliException($"--sample-rate must lie in [0, 1], got {text}.", 2);
    }

    private static double Delta(string? text)
    {
        double d = Number(text, "--delta");
        return d is > 0 and < 1 ? d : throw new CliException($"--delta must lie in (0, 1), got {text}.", 2);
    }

    private static double Positive(string? text, string option, string symbol)
    {
        double v = Number(text, option);
        return v > 0 ? v : throw new CliException($"{option} ({symbol}) must be greater than 0, got {text}.", 2);
    }

    private static long Steps(string? text)
    {
        if (text is null)
        {
            throw new CliException("--steps is required.", 2);
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long t))
        {
            throw new CliException($"--steps must be a whole number, got '{text}'.", 2);
        }

        return t >= 0 ? t : throw new CliException($"--steps must not be negative, got {text}.", 2);
    }
}
