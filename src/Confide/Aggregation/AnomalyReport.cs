namespace Confide.Aggregation;

/// <summary>What an <see cref="IAnomalyDetector"/> found.</summary>
/// <param name="Flagged">The flagged inputs, ascending by index, each with a reason.</param>
/// <param name="Scores">One anomaly score per input (higher is more anomalous); its meaning is the detector's.</param>
/// <param name="Threshold">Scores above this were flagged.</param>
public sealed record AnomalyReport(IReadOnlyList<FlaggedInput> Flagged, IReadOnlyList<double> Scores, double Threshold);
