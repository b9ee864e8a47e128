using Confide.Randomness;

namespace Confide.Training.Simulation;

/// <summary>
/// A hook into a simulated round for transforms the simulator does not build in (compression, local DP, custom
/// metrics): a client-side step on each update before it is sent, and a server-side step on the aggregate.
/// DP-FedAvg and secure aggregation are built in (see <see cref="SimulationOptions"/>); client steps run after the
/// attacks and before DP clipping; server steps run after plain or robust aggregation, not under DP-FedAvg or secure
/// aggregation, whose aggregate is final (noised or decoded) when it leaves them.
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
