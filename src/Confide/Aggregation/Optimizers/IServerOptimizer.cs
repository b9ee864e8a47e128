namespace Confide.Aggregation.Optimizers;

/// <summary>
/// A server optimiser: it applies the round's aggregated delta (the aggregate of client model − global model,
/// as an <see cref="IAggregator"/> returns it) to the global model as a pseudo-gradient step.
/// </summary>
/// <remarks>
/// Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan, "Adaptive Federated Optimization", ICLR 2021.
/// An instance keeps its state (momentum, second moments) for one model across rounds: use one instance per model,
/// from one thread at a time. The first step fixes the model length; a later step with another length is an error.
/// A non-finite delta is rejected before any state or model value changes.
/// </remarks>
public interface IServerOptimizer
{
    /// <summary>The optimiser's short name (for example "fedadam").</summary>
    string Name { get; }

    /// <summary>Updates <paramref name="globalModel"/> in place with <paramref name="aggregatedDelta"/>.</summary>
    /// <exception cref="ArgumentException">The lengths differ from each other or from earlier steps, or the delta is not finite.</exception>
    void Step(Span<float> globalModel, ReadOnlySpan<float> aggregatedDelta);
}
