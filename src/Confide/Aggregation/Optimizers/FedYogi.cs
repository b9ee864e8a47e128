using Confide.Aggregation.Optimizers.Internal;

namespace Confide.Aggregation.Optimizers;

/// <summary>
/// FedYogi: m ← β₁m + (1 − β₁)Δ, v ← v − (1 − β₂)·Δ²·sign(v − Δ²), x ← x + η·m / (√v + τ), element-wise.
/// </summary>
/// <remarks>
/// Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithm 2 (after Zaheer et al., "Adaptive Methods for
/// Nonconvex Optimization", NeurIPS 2018). No bias correction; m starts at 0 and v at τ² (the paper's v₋₁ ≥ τ²).
/// Defaults are Flower's FedYogi: η = 0.01, β₁ = 0.9, β₂ = 0.99, τ = 1e-3 (Flower gives FedYogi a smaller η and a larger τ
/// than FedAdam and FedAdagrad). State is float32, two vectors of the model's length.
/// </remarks>
public sealed class FedYogi : ICheckpointableServerOptimizer
{
    private readonly AdaptiveMoments _moments = new();

    /// <summary>Creates the optimiser.</summary>
    /// <param name="serverLearningRate">η &gt; 0.</param>
    /// <param name="beta1">β₁ in [0, 1): the momentum decay.</param>
    /// <param name="beta2">β₂ in [0, 1): the second-moment rate.</param>
    /// <param name="tau">τ &gt; 0: the adaptivity.</param>
    public FedYogi(double serverLearningRate = 0.01, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-3)
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
    public string Name => "fedyogi";

    /// <inheritdoc/>
    public ServerOptimizerState ExportState() => _moments.Export(Name);

    /// <inheritdoc/>
    public void ImportState(ServerOptimizerState state) => _moments.Import(Name, state);

    /// <inheritdoc/>
    public void Step(Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta) =>
        _moments.Step<YogiRule>(Name, globalModel, aggregatedDelta, ServerLearningRate, Beta1, Beta2, Tau);
}
