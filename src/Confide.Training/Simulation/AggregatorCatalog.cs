using System.Globalization;
using Confide.Aggregation;

namespace Confide.Training.Simulation;

/// <summary>
/// Builds the round's aggregator from its CLI spelling. FLTrust needs the server's root-set update of the round, so the
/// catalog returns a factory that takes it.
/// </summary>
public static class AggregatorCatalog
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Syntax =
        "fedavg | median | trimmed-mean[:beta] | krum | multi-krum[:m] | bulyan | fltrust | geometric-median | norm-bound:<M>[:inner]";

    /// <summary>
    /// Parses <paramref name="spec"/>. <paramref name="byzantine"/> is the f that Krum, Multi-Krum and Bulyan tolerate and
    /// that trimmed mean trims by default (β = f/n of the round, at least 0.1 when f = 0).
    /// </summary>
    /// <exception cref="ArgumentException">The name is unknown or a parameter is invalid.</exception>
    public static AggregatorFactory Parse(string spec, int byzantine)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        ArgumentOutOfRangeException.ThrowIfNegative(byzantine);
        var parts = spec.Split(':');
        string name = parts[0].Trim().ToLowerInvariant();
        string? arg = parts.Length > 1 ? parts[1] : null;
        try
        {
            return name switch
            {
                "fedavg" when arg is null => new AggregatorFactory(spec, false, (_, _) => new FedAvg()),
                "median" when arg is null => new AggregatorFactory(spec, false, (_, _) => new CoordinateMedian()),
                "trimmed-mean" => TrimmedMeanFactory(spec, arg, byzantine),
                "krum" when arg is null => new AggregatorFactory(spec, false, (_, _) => new Krum(byzantine)),
                "multi-krum" => new AggregatorFactory(spec, false, (n, _) => new MultiKrum(byzantine, arg is null ? n - byzantine : Int(arg))),
                "bulyan" when arg is null => new AggregatorFactory(spec, false, (_, _) => new Bulyan(byzantine)),
                "fltrust" when arg is null => new AggregatorFactory(spec, true, (_, server) => new FlTrust(server ?? throw new InvalidOperationException("FLTrust needs the server's root update."))),
                "geometric-median" when arg is null => new AggregatorFactory(spec, false, (_, _) => new GeometricMedian()),
                "norm-bound" when arg is not null => NormBoundFactory(spec, parts, byzantine),
                _ => throw new ArgumentException($"Unknown aggregator '{spec}'; expected {Syntax}."),
            };
        }
        catch (FormatException)
        {
            throw new ArgumentException($"Aggregator '{spec}' has a parameter that is not a number; expected {Syntax}.");
        }
    }

    private static AggregatorFactory TrimmedMeanFactory(string spec, string? arg, int byzantine)
    {
        if (arg is not null)
        {
            double beta = double.Parse(arg, NumberStyles.Float, CultureInfo.InvariantCulture);
            _ = new TrimmedMean(beta); // validates now, so a bad β is reported before any training
            return new AggregatorFactory(spec, false, (_, _) => new TrimmedMean(beta));
        }

        return new AggregatorFactory(spec, false, (n, _) => new TrimmedMean(byzantine > 0 ? Math.Min(0.5, (double)byzantine / n) : 0.1));
    }

    private static AggregatorFactory NormBoundFactory(string spec, string[] parts, int byzantine)
    {
        double bound = double.Parse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture);
        var inner = parts.Length > 2 ? Parse(string.Join(':', parts[2..]), byzantine) : Parse("fedavg", byzantine);
        _ = new NormBound(bound, new FedAvg()); // validates M now
        return new AggregatorFactory(spec, inner.NeedsServerUpdate, (n, server) => new NormBound(bound, inner.Create(n, server)));
    }

    private static int Int(string s) => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);
}
