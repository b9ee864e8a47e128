namespace Confide.Training.Simulation;

/// <summary>The outcome of a run.</summary>
/// <param name="Options">The options it ran with.</param>
/// <param name="ModelName">The model's description.</param>
/// <param name="ParameterCount">The number of weights.</param>
/// <param name="AggregatorName">The aggregator's name.</param>
/// <param name="AttackName">The attack's name, or null.</param>
/// <param name="MaliciousClients">The malicious clients' ids.</param>
/// <param name="ClientSamples">Each client's sample count.</param>
/// <param name="TestSamples">The size of the test set.</param>
/// <param name="Rounds">Per-round metrics.</param>
/// <param name="TotalSeconds">Wall time of the whole run, set-up included.</param>
/// <param name="Privacy">The DP settings in force, or null without DP.</param>
public sealed record SimulationResult(
    SimulationOptions Options,
    string ModelName,
    int ParameterCount,
    string AggregatorName,
    string? AttackName,
    IReadOnlyList<int> MaliciousClients,
    IReadOnlyList<int> ClientSamples,
    int TestSamples,
    IReadOnlyList<RoundMetrics> Rounds,
    double TotalSeconds,
    PrivacySettings? Privacy = null)
{
    /// <summary>The test accuracy after the last round.</summary>
    public double FinalAccuracy => Rounds[^1].Accuracy;

    /// <summary>The test loss after the last round.</summary>
    public double FinalLoss => Rounds[^1].Loss;
}
