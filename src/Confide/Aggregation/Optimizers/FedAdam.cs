using Confide.Aggregation.Optimizers.Internal;

namespace Confide.Aggregation.Optimizers;

/// <summary>
/// FedAdam: m ← β₁m + (1 − β₁)Δ, v ← β₂v + (1 − β₂)Δ², x ← x + η·m / (√v + τ), element-wise.
/// </summary>
/// <remarks>
/// Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithm 2. As in the paper there is no bias
/// correction; m starts at 0 and v at τ² (the paper's v₋₁ ≥ τ²; Flower starts v at 0, a difference of τ² = 1e-18 at the
/// defaults). Defaults are Flower's FedAdam: η = 0.1, β₁ = 0.9, β₂ = 0.99, τ = 1e-9. State is float32, two vectors of
/// the model's length.
/// </remarks>
public sealed class FedAdam : ICheckpointableServerOptimizer
{
    private readonly AdaptiveMoments _moments = new();

    /// <summary>Creates the optimiser.</summary>
    /// <param name="serverLearningRate">η &gt; 0.</param>
    /// <param name="beta1">β₁ in [0, 1): the momentum decay.</param>
    /// <param name="beta2">β₂ in [0, 1): the second-moment decay.</param>
    /// <param name="tau">τ &gt; 0: the adaptivity (a larger τ is less adaptive).</param>
    public FedAdam(double serverLearningRate = 0.1, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-9)
    {
        ServerLearningRate = StepChecks.LearningRate(Name, serverLearningRate, nameof(serverLearningRate));
        Beta1 = StepChecks.Decay(Name, beta1, nameof(beta1));
        Beta2 = StepChecks.Decay(Name, beta2, nameof(beta2));
        Tau = StepChecks.Adaptivity(Name, tau, nameof(tau));
    }

    /// <summary>η.</summary>
    public double ServerLearningRate { get; }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>τ.</summary>
    public double Tau { get; }

    /// <inheritdoc/>
    public string Name => "fedadam";

    /// <inheritdoc/>
    public ServerOptimizerState ExportState() => _moments.Export(Name);

    /// <inheritdoc/>
    public void ImportState(ServerOptimizerState state) => _moments.Import(Name, state);

    /// <inheritdoc/>
    public void Step(Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta) =>
        _moments.Step<AdamRule>(Name, globalModel, aggregatedDelta, ServerLearningRate, Beta1, Beta2, Tau);
}
