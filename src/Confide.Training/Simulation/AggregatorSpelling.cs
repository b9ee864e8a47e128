using System.Globalization;
using Confide.Aggregation;
using Confide.Training.Simulation.Internal;

namespace Confide.Training.Simulation;

/// <summary>
/// Reads the simulator's one-word aggregator spellings into <see cref="AggregatorSettings"/> and builds the aggregators
/// through the core <see cref="AggregatorCatalog"/>, so <c>simulate</c> builds them exactly as <c>aggregate</c> does.
/// FLTrust needs the server's root-set update of the round, so the result is a factory that takes it.
/// </summary>
public static class AggregatorSpelling
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Syntax =
        "fedavg | median | trimmed-mean[:beta] | krum | multi-krum[:m] | bulyan | fltrust[:alpha] | geometric-median | norm-bound:<M>[:inner]";

    /// <summary>
    /// FLTrust's global learning rate α when <c>fltrust</c> is spelled without one: the server adds α·g to the model,
    /// where g is FLTrust's trust-weighted mean rescaled to ‖g₀‖ (Cao et al. 2021, Algorithm 2).
    /// </summary>
    /// <remarks>
    /// <para>1, the paper's rule unscaled. The paper reports only the product of α and the local rate, with one local
    /// step, where g₀ and gᵢ are single mini-batch gradients of the same size and FLTrust's step is about FedAvg's. With
    /// multi-epoch clients the best α depends on the set-up, because the server's 100 root samples are revisited for
    /// every step a client takes: on the Fashion-MNIST robustness table (about 3,000 samples a client, 94 steps, so 47
    /// passes over the root set) ‖g₀‖ came out 1.4–1.9 times the mean client norm, α = 1 overshot (test accuracy
    /// alternated between about 0.61 and 0.79 and ended at 0.73, FedAvg 0.82) and <c>fltrust:0.5</c> ended at 0.83; on
    /// the default digits run (100 clients of 13 samples) α = 1 reached 0.86 and α = 0.5 only 0.71 (FedAvg 0.90).
    /// <c>docs/results.md</c> records both.</para>
    /// </remarks>
    public const double DefaultFlTrustAlpha = 1.0;

    /// <summary>
    /// Parses <paramref name="spec"/>. <paramref name="byzantine"/> is the f that Krum, Multi-Krum and Bulyan tolerate;
    /// trimmed mean without β trims f/n of the round's n updates (0.1 when f = 0), Multi-Krum without m averages n − f,
    /// and FLTrust without α uses <see cref="DefaultFlTrustAlpha"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown or a parameter is invalid.</exception>
    public static AggregatorFactory Parse(string spec, int byzantine)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        ArgumentOutOfRangeException.ThrowIfNegative(byzantine);
        var parts = spec.Trim().ToLowerInvariant().Split(':');
        double? normBound = null;
        if (parts[0] == "norm-bound")
        {
            if (parts.Length < 2)
            {
                throw new ArgumentException($"Aggregator '{spec}' needs the bound: norm-bound:<M>[:inner], e.g. norm-bound:2 or norm-bound:2:median.");
            }

            normBound = Number(parts[1], spec);
            parts = parts.Length > 2 ? parts[2..] : ["fedavg"];
        }

        string method = parts[0];
        string? arg = parts.Length > 1 ? string.Join(':', parts[1..]) : null;
        if (!AggregatorCatalog.Methods.Contains(method, StringComparer.Ordinal) || method == "norm-bound")
        {
            throw new ArgumentException($"Unknown aggregator '{spec}'; expected {Syntax}.");
        }

        if (arg is not null && method is not ("trimmed-mean" or "multi-krum" or "fltrust"))
        {
            throw new ArgumentException($"Aggregator '{spec}': {method} takes no parameter; expected {Syntax}.");
        }

        double? beta = method == "trimmed-mean" && arg is not null ? Number(arg, spec) : null;
        int? select = method == "multi-krum" && arg is not null ? (int)Number(arg, spec) : null;
        double alpha = method == "fltrust" && arg is not null ? Number(arg, spec) : DefaultFlTrustAlpha;
        if (!(alpha > 0) || !double.IsFinite(alpha))
        {
            throw new ArgumentException($"Aggregator '{spec}': FLTrust's global learning rate α must be a finite number > 0, e.g. fltrust:0.5.");
        }

        try
        {
            // Validates every field now, so a bad β, m or M is reported before any training.
            var settings = new AggregatorSettings(method, byzantine, select, beta ?? 0.1, null, normBound);
            return new AggregatorFactory(spec, method == "fltrust", (n, server) =>
            {
                var aggregator = AggregatorCatalog.Create(settings with
                {
                    TrimRatio = beta ?? (byzantine > 0 ? Math.Min(0.5, (double)byzantine / n) : 0.1),
                    Select = method == "multi-krum" ? select ?? Math.Max(1, n - byzantine) : null,
                    ServerUpdate = method == "fltrust" ? server : null,
                });
                return method == "fltrust" && alpha != 1 ? new GlobalLearningRate(aggregator, alpha) : aggregator;
            });
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new ArgumentException($"Aggregator '{spec}': {ex.Message.Split(" (Parameter", 2)[0]}");
        }
    }

    private static double Number(string s, string spec) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v
            : throw new ArgumentException($"Aggregator '{spec}' has a parameter that is not a number: '{s}'; expected {Syntax}.");
}
