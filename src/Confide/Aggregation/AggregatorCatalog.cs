namespace Confide.Aggregation;

/// <summary>
/// The one place where method names map to aggregators, shared by every command that takes <c>--method</c>.
/// </summary>
public static class AggregatorCatalog
{
    /// <summary>The method names, as the CLI spells them.</summary>
    public static IReadOnlyList<string> Methods { get; } =
        ["fedavg", "median", "trimmed-mean", "krum", "multi-krum", "bulyan", "fltrust", "geometric-median"];

    /// <summary>Whether <paramref name="method"/> takes f, the number of Byzantine inputs (krum, multi-krum, bulyan).</summary>
    public static bool UsesByzantine(string method) => method is "krum" or "multi-krum" or "bulyan";

    /// <summary>Whether <paramref name="method"/> uses the per-input weights (sample counts): fedavg and geometric-median; the others only check them.</summary>
    public static bool UsesWeights(string method) => method is "fedavg" or "geometric-median";

    /// <summary>
    /// The fewest inputs the method accepts under <paramref name="settings"/>, from its paper: n &gt; 2f + 2 for Krum and
    /// Multi-Krum (which also needs n ≥ m + f), n ≥ 4f + 3 for Bulyan, otherwise 1. Trimmed mean's own requirement,
    /// n &gt; 2⌊β·n⌋, is not monotone in n and is checked by <see cref="TrimmedMean"/> itself.
    /// </summary>
    public static int MinimumClients(AggregatorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int f = settings.Byzantine;
        return settings.Method switch
        {
            "krum" => (2 * f) + 3,
            "multi-krum" => Math.Max((2 * f) + 3, (settings.Select ?? 1) + f),
            "bulyan" => (4 * f) + 3,
            _ => 1,
        };
    }

    /// <summary>Builds the aggregator that <paramref name="settings"/> names, wrapped in <see cref="NormBound"/> when a norm bound is set.</summary>
    /// <exception cref="ArgumentException">multi-krum lacks m, fltrust lacks a server update, or one is given to a method that does not use it.</exception>
    public static IAggregator Create(AggregatorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Select is not null && settings.Method != "multi-krum")
        {
            throw new ArgumentException($"The number of inputs to average (m = {settings.Select}) applies only to multi-krum, not {settings.Method}.", nameof(settings));
        }

        if (settings.ServerUpdate is not null && settings.Method != "fltrust")
        {
            throw new ArgumentException($"A server update applies only to fltrust, not {settings.Method}.", nameof(settings));
        }

        IAggregator aggregator = settings.Method switch
        {
            "fedavg" => new FedAvg(),
            "median" => new CoordinateMedian(),
            "trimmed-mean" => new TrimmedMean(settings.TrimRatio),
            "krum" => new Krum(settings.Byzantine),
            "multi-krum" => new MultiKrum(
                settings.Byzantine,
                settings.Select ?? throw new ArgumentException("multi-krum needs m, the number of best-scored inputs to average.", nameof(settings))),
            "bulyan" => new Bulyan(settings.Byzantine),
            "fltrust" => new FlTrust(
                settings.ServerUpdate ?? throw new ArgumentException("fltrust needs the server's update on its root data set.", nameof(settings))),
            "geometric-median" => new GeometricMedian(),
            _ => throw new ArgumentException($"Unknown aggregation method '{settings.Method}'.", nameof(settings)),
        };
        return settings.NormBound is double bound ? new NormBound(bound, aggregator) : aggregator;
    }
}
