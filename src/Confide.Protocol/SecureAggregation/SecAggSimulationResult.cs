namespace Confide.Protocol.SecureAggregation;

/// <summary>The outcome of <see cref="SecAggSimulation.Run"/>: the server's result or the error that aborted the round, and costs.</summary>
/// <param name="Session">The public parameters of the round (session id, roster, neighbour graph).</param>
/// <param name="Result">The sum and survivors; null when the round aborted.</param>
/// <param name="Error">Why the round aborted; null when it completed.</param>
/// <param name="ClientMilliseconds">Mean wall time of one client over all its stages (clients that completed the round). Only meaningful
/// when <see cref="ClientsOneAtATime"/> is true: otherwise clients run concurrently and each one's wall time includes waiting for the others.</param>
/// <param name="ServerMilliseconds">Server compute time per stage (receiving, checking, closing), in stage order.</param>
/// <param name="BytesPerClient">Mean bytes sent plus received by a client that completed the round (see the wire-size estimate).</param>
/// <param name="ClientCpuMilliseconds">Process CPU time of each stage's client work divided by the clients that worked in it, summed over
/// stages: a client's cost that other processes loading the machine do not inflate.</param>
/// <param name="ServerCpuMilliseconds">Process CPU time of the server's work per stage (all cores together).</param>
public sealed record SecAggSimulationResult(
    SecAggSession Session,
    SecAggResult? Result,
    SecAggProtocolException? Error,
    double ClientMilliseconds,
    IReadOnlyDictionary<SecAggStage, double> ServerMilliseconds,
    double BytesPerClient,
    double ClientCpuMilliseconds,
    IReadOnlyDictionary<SecAggStage, double> ServerCpuMilliseconds)
{
    /// <summary>True when the round completed and <see cref="Result"/> holds the sum.</summary>
    public bool Completed => Result is not null;

    /// <summary>Client CPU time per stage: the process CPU time of the stage's client work divided by the clients that worked in it.</summary>
    public IReadOnlyDictionary<SecAggStage, double> ClientCpuMillisecondsByStage { get; init; } = new Dictionary<SecAggStage, double>();

    /// <summary>Mean client wall time per stage over the clients that worked in it (see <see cref="ClientMilliseconds"/> for when it is meaningful).</summary>
    public IReadOnlyDictionary<SecAggStage, double> ClientWallMillisecondsByStage { get; init; } = new Dictionary<SecAggStage, double>();

    /// <summary>True when the clients of each stage ran one after another, so their wall times were measured without each other's load.</summary>
    public bool ClientsOneAtATime { get; init; }

    /// <summary>Total server compute time.</summary>
    public double ServerTotalMilliseconds => ServerMilliseconds.Values.Sum();
}
