using System.Globalization;

namespace Confide.Training.Partitioning;

/// <summary>Builds a partitioner from its CLI spelling: <c>iid</c>, <c>dirichlet:α</c>, <c>shards:s</c> or <c>quantity:β</c>.</summary>
public static class PartitionerCatalog
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Syntax = "iid | dirichlet:<alpha> | shards:<per-client> | quantity:<beta>";

    /// <summary>Parses <paramref name="spec"/>.</summary>
    /// <exception cref="ArgumentException">The spelling is unknown or its parameter is invalid.</exception>
    public static IPartitioner Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var parts = spec.Split(':', 2);
        string kind = parts[0].Trim().ToLowerInvariant();
        string? arg = parts.Length > 1 ? parts[1].Trim() : null;
        try
        {
            return kind switch
            {
                "iid" when arg is null => new IidPartitioner(),
                "dirichlet" => new DirichletPartitioner(ParseDouble(arg ?? "0.5")),
                "shards" => new ShardPartitioner(int.Parse(arg ?? "2", NumberStyles.Integer, CultureInfo.InvariantCulture)),
                "quantity" => new QuantitySkewPartitioner(ParseDouble(arg ?? "0.5")),
                _ => throw new ArgumentException($"Unknown partition '{spec}'; expected {Syntax}."),
            };
        }
        catch (FormatException)
        {
            throw new ArgumentException($"Partition '{spec}' has a parameter that is not a number; expected {Syntax}.");
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new ArgumentException($"Partition '{spec}': {ex.Message.Split(" (Parameter", 2)[0]}");
        }
    }

    private static double ParseDouble(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
