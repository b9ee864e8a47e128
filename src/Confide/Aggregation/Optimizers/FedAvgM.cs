using Confide.Aggregation.Optimizers.Internal;

namespace Confide.Aggregation.Optimizers;

/// <summary>
/// FedAvg with server momentum: v ← β·v + Δ, x ← x + η·v (v starts at 0).
/// </summary>
/// <remarks>
/// Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated Visual Classification",
/// arXiv:1909.06335, 2019; the FedOpt framework of Reddi et al., ICLR 2021. This is Flower's FedAvgM update with the
/// delta's sign (client − global) in place of its pseudo-gradient (global − client). Both parameters are required:
/// Flower's default momentum 0 would silently make this plain FedAvg; Hsu et al. use β = 0.9 with η = 1.
/// </remarks>
public sealed class FedAvgM : ICheckpointableServerOptimizer
{
    private float[] _velocity = [];

    /// <summary>Creates the optimiser.</summary>
    /// <param name="serverLearningRate">η &gt; 0.</param>
    /// <param name="momentum">β in [0, 1).</param>
    public FedAvgM(double serverLearningRate, double momentum)
    {
        ServerLearningRate = StepChecks.LearningRate(Name, serverLearningRate, nameof(serverLearningRate));
        Momentum = StepChecks.Decay(Name, momentum, nameof(momentum));
    }

    /// <summary>η.</summary>
    public double ServerLearningRate { get; }

    /// <summary>β.</summary>
    public double Momentum { get; }

    /// <inheritdoc/>
    public string Name => "fedavgm";

    /// <inheritdoc/>
    public ServerOptimizerState ExportState() =>
        _velocity.Length == 0 ? ServerOptimizerState.Empty(Name) : new(Name, new Dictionary<string, float[]> { ["velocity"] = _velocity });

    /// <inheritdoc/>
    public void ImportState(ServerOptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _velocity = state.Expect(Name, "velocity")?[0] ?? [];
    }

    /// <inheritdoc/>
    public void Step(Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta)
    {
        int length = StepChecks.Step(Name, globalModel, aggregatedDelta, _velocity.Length);
        if (_velocity.Length != length)
        {
            _velocity = new float[length];
        }

        float eta = (float)ServerLearningRate;
        float beta = (float)Momentum;
        for (int i = 0; i < length; i++)
        {
            float v = (beta * _velocity[i]) + aggregatedDelta[i];
            _velocity[i] = v;
            globalModel[i] += eta * v;
        }
    }
}
