namespace Confide.Aggregation;

/// <summary>
/// Combines n client update vectors of one length into one vector. Implementations are pure math:
/// one sealed type per paper, preconditions checked with messages that say what the paper requires.
/// </summary>
public interface IAggregator
{
    /// <summary>The method's short name, as the CLI spells it (for example "krum").</summary>
    string Name { get; }

    /// <summary>
    /// Aggregates <paramref name="updates"/>. <paramref name="weights"/> holds one positive weight per update
    /// (normally the sample count); methods that ignore weights say so in their docs.
    /// </summary>
    /// <exception cref="ArgumentException">The inputs break the method's preconditions (too few, mismatched lengths, …).</exception>
    AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights);
}
