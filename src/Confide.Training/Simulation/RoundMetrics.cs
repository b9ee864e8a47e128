namespace Confide.Training.Simulation;

/// <summary>What happened in one round.</summary>
/// <param name="Round">The round, from 1.</param>
/// <param name="Accuracy">Global-model accuracy on the test set after the round.</param>
/// <param name="Loss">Global-model mean test loss after the round.</param>
/// <param name="TrainLoss">The mean last-epoch training loss of the benign clients that trained.</param>
/// <param name="Participants">The client ids sampled this round, ascending.</param>
/// <param name="MaliciousParticipants">How many of them were malicious.</param>
/// <param name="Flagged">Clients excluded or flagged by the update check or the aggregator.</param>
/// <param name="BackdoorSuccessRate">The backdoor's attack success rate on the test set, when a backdoor is planted.</param>
/// <param name="Seconds">The round's wall time.</param>
/// <param name="Extra">Per-round figures from extensions (for example ε spent), by name.</param>
public sealed record RoundMetrics(
    int Round,
    double Accuracy,
    double Loss,
    double TrainLoss,
    IReadOnlyList<int> Participants,
    int MaliciousParticipants,
    IReadOnlyList<ClientFlag> Flagged,
    double? BackdoorSuccessRate,
    double Seconds,
    IReadOnlyDictionary<string, double> Extra);
