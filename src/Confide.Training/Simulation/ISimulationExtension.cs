using Confide.Randomness;

namespace Confide.Training.Simulation;

/// <summary>
/// The place where differential privacy and secure aggregation plug into a simulated round, so that the simulation loop
/// does not change when they arrive: a client-side step on each update before it is sent (clipping and noise, or
/// masking), and a server-side step on the aggregate (central noise, accounting). No implementation ships in this
/// assembly yet; the DP and SecAgg layers provide them.
/// </summary>
public interface ISimulationExtension
{
    /// <summary>A short name for the summary.</summary>
    string Name { get; }

    /// <summary>Transforms a client's update in place before it leaves the client.</summary>
    void OnClientUpdate(int round, int client, Span<float> update, IRandomSource random);

    /// <summary>
    /// Runs on the aggregate of a round (in place) and returns figures to record for the round, for example
    /// <c>epsilon</c>.
    /// </summary>
    IReadOnlyDictionary<string, double> OnAggregate(int round, int participants, Span<float> aggregate, IRandomSource random);
}
