using Confide.Aggregation;

namespace Confide.Training.Simulation;

/// <summary>Creates a round's aggregator from the number of updates and, for FLTrust, the server's root-set update.</summary>
/// <param name="Spec">The spelling it was built from.</param>
/// <param name="NeedsServerUpdate">Whether the server must train on its root set each round.</param>
/// <param name="Factory">(number of updates, server update or null) → aggregator.</param>
public sealed record AggregatorFactory(string Spec, bool NeedsServerUpdate, Func<int, ReadOnlyMemory<float>?, IAggregator> Factory)
{
    /// <summary>Creates the aggregator for a round with <paramref name="updates"/> inputs.</summary>
    public IAggregator Create(int updates, ReadOnlyMemory<float>? serverUpdate) => Factory(updates, serverUpdate);
}
