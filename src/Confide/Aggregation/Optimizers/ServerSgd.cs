using Confide.Aggregation.Optimizers.Internal;

namespace Confide.Aggregation.Optimizers;

/// <summary>
/// Server SGD: x ← x + η·Δ. With η = 1 this is plain FedAvg (the global model becomes the aggregate of the client models).
/// </summary>
/// <remarks>
/// Reddi et al., "Adaptive Federated Optimization", ICLR 2021 (the FedOpt framework, Algorithm 1 with SGD as ServerOpt);
/// McMahan et al., AISTATS 2017, for η = 1. Stateless.
/// </remarks>
public sealed class ServerSgd : ICheckpointableServerOptimizer
{
    /// <summary>Creates the optimiser.</summary>
    /// <param name="serverLearningRate">η &gt; 0; 1 (the default) is plain FedAvg.</param>
    public ServerSgd(double serverLearningRate = 1.0) =>
        ServerLearningRate = StepChecks.LearningRate(Name, serverLearningRate, nameof(serverLearningRate));

    /// <summary>η.</summary>
    public double ServerLearningRate { get; }

    /// <inheritdoc/>
    public string Name => "server-sgd";

    /// <inheritdoc/>
    public ServerOptimizerState ExportState() => ServerOptimizerState.Empty(Name);

    /// <inheritdoc/>
    public void ImportState(ServerOptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Expect(Name);
    }

    /// <inheritdoc/>
    public void Step(Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta)
    {
        StepChecks.Step(Name, globalModel, aggregatedDelta, 0);
        float eta = (float)ServerLearningRate;
        for (int i = 0; i < globalModel.Length; i++)
        {
            globalModel[i] += eta * aggregatedDelta[i];
        }
    }
}
