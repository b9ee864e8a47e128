using Confide.Aggregation.Optimizers.Internal;

namespace Confide.Aggregation.Optimizers;

/// <summary>
/// FedAdagrad: v ← v + Δ², x ← x + η·Δ / (√v + τ), element-wise.
/// </summary>
/// <remarks>
/// Reddi et al., "Adaptive Federated Optimization", ICLR 2021, Algorithm 2 with β₁ = 0 (no server momentum), which is
/// also Flower's FedAdagrad default. v starts at τ² (the paper's v₋₁ ≥ τ²). Defaults are Flower's FedAdagrad:
/// η = 0.1, τ = 1e-9. State is one float32 vector of the model's length.
/// </remarks>
public sealed class FedAdagrad : ICheckpointableServerOptimizer
{
    private float[] _v = [];

    /// <summary>Creates the optimiser.</summary>
    /// <param name="serverLearningRate">η &gt; 0.</param>
    /// <param name="tau">τ &gt; 0: the adaptivity.</param>
    public FedAdagrad(double serverLearningRate = 0.1, double tau = 1e-9)
    {
        ServerLearningRate = StepChecks.LearningRate(Name, serverLearningRate, nameof(serverLearningRate));
        Tau = StepChecks.Adaptivity(Name, tau, nameof(tau));
    }

    /// <summary>η.</summary>
    public double ServerLearningRate { get; }

    /// <summary>τ.</summary>
    public double Tau { get; }

    /// <inheritdoc/>
    public string Name => "fedadagrad";

    /// <inheritdoc/>
    public ServerOptimizerState ExportState() =>
        _v.Length == 0 ? ServerOptimizerState.Empty(Name) : new(Name, new Dictionary<string, float[]> { ["v"] = _v });

    /// <inheritdoc/>
    public void ImportState(ServerOptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _v = state.Expect(Name, "v")?[0] ?? [];
    }

    /// <inheritdoc/>
    public void Step(Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta)
    {
        int length = StepChecks.Step(Name, globalModel, aggregatedDelta, _v.Length);
        if (_v.Length != length)
        {
            _v = new float[length];
            Array.Fill(_v, (float)(Tau * Tau));
        }

        for (int i = 0; i < length; i++)
        {
            double delta = aggregatedDelta[i];
            double v = _v[i] + (delta * delta);
            _v[i] = (float)v;
            globalModel[i] = (float)(globalModel[i] + (ServerLearningRate * delta / (Math.Sqrt(v) + Tau)));
        }
    }
}
