namespace Confide.Training.Simulation;

/// <summary>A client that the aggregator (or the update check before it) excluded or flagged in a round.</summary>
/// <param name="Client">The client's id.</param>
/// <param name="Malicious">Whether the client was one of the attackers (known to the simulator, not to the server).</param>
/// <param name="Reason">Why, as the aggregator put it.</param>
public sealed record ClientFlag(int Client, bool Malicious, string Reason);
