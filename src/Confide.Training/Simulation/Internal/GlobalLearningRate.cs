using System.Numerics.Tensors;
using Confide.Aggregation;

namespace Confide.Training.Simulation.Internal;

/// <summary>
/// Multiplies another aggregator's result by a global learning rate α before the server adds it to the model: the α of
/// FLTrust's Algorithm 2 (Cao et al., NDSS 2021), w ← w + α·g. Selection, flags and scores pass through unchanged.
/// </summary>
internal sealed class GlobalLearningRate : IAggregator
{
    private readonly IAggregator _inner;
    private readonly float _alpha;

    public GlobalLearningRate(IAggregator inner, double alpha)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (!(alpha > 0) || !double.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The global learning rate α must be a finite number > 0.");
        }

        _inner = inner;
        _alpha = (float)alpha;
    }

    public string Name => _inner.Name;

    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        var result = _inner.Aggregate(updates, weights);
        TensorPrimitives.Multiply(result.Aggregate, _alpha, result.Aggregate);
        return result;
    }
}
