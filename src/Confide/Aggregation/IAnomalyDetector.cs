namespace Confide.Aggregation;

/// <summary>Flags client updates that look anomalous, without aggregating them. Wrap one in <see cref="AnomalyFilter"/> to drop them before an aggregator.</summary>
public interface IAnomalyDetector
{
    /// <summary>The detector's short name (for example "cosine-anomaly").</summary>
    string Name { get; }

    /// <summary>Examines <paramref name="updates"/> and reports the flagged ones, by input index, each with a reason.</summary>
    /// <exception cref="ArgumentException">The inputs break the detector's preconditions.</exception>
    AnomalyReport Detect(IReadOnlyList<ReadOnlyMemory<float>> updates);
}
