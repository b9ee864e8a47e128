namespace Confide.Aggregation;

/// <summary>
/// Drops the inputs an <see cref="IAnomalyDetector"/> flags, then aggregates the rest with an inner
/// <see cref="IAggregator"/>. Every index in the result refers to the original input order.
/// </summary>
/// <remarks>
/// <see cref="AggregationResult.Flagged"/> holds the detector's flags and the inner aggregator's exclusions (remapped),
/// ascending by index. <see cref="AggregationResult.Scores"/> holds the detector's per-input scores; the inner aggregator's
/// scores cover only the kept inputs and are not reported. Weights, when given, are filtered along with the inputs.
/// If the detector flags every input, that is an error rather than an empty aggregate.
/// </remarks>
public sealed class AnomalyFilter : IAggregator
{
    /// <summary>Wraps <paramref name="inner"/> so it sees only the inputs <paramref name="detector"/> does not flag.</summary>
    public AnomalyFilter(IAnomalyDetector detector, IAggregator inner)
    {
        ArgumentNullException.ThrowIfNull(detector);
        ArgumentNullException.ThrowIfNull(inner);
        Detector = detector;
        Inner = inner;
    }

    /// <summary>The detector run first.</summary>
    public IAnomalyDetector Detector { get; }

    /// <summary>The aggregator applied to the unflagged inputs.</summary>
    public IAggregator Inner { get; }

    /// <inheritdoc />
    public string Name => $"{Detector.Name}+{Inner.Name}";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The detector's or the inner aggregator's preconditions fail, or every input is flagged.</exception>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (weights.Length != 0 && weights.Length != updates.Count)
        {
            throw new ArgumentException(
                $"{Name}: {weights.Length} weights for {updates.Count} updates; expected one weight per update (or none).", nameof(weights));
        }

        AnomalyReport report = Detector.Detect(updates);
        var isFlagged = new bool[updates.Count];
        foreach (FlaggedInput flag in report.Flagged)
        {
            isFlagged[flag.Index] = true;
        }

        var kept = new List<int>(updates.Count);
        for (int i = 0; i < updates.Count; i++)
        {
            if (!isFlagged[i])
            {
                kept.Add(i);
            }
        }

        if (kept.Count == 0)
        {
            throw new ArgumentException($"{Name}: the detector flagged all {updates.Count} inputs; nothing is left to aggregate.", nameof(updates));
        }

        var keptUpdates = kept.Select(i => updates[i]).ToArray();
        var keptWeights = new double[weights.Length == 0 ? 0 : kept.Count];
        for (int s = 0; s < keptWeights.Length; s++)
        {
            keptWeights[s] = weights[kept[s]];
        }

        AggregationResult inner;
        try
        {
            inner = Inner.Aggregate(keptUpdates, keptWeights);
        }
        catch (ArgumentException ex)
        {
            // The inner message counts only the kept inputs; say how many were dropped first.
            throw new ArgumentException(
                $"{Name}: the detector flagged {report.Flagged.Count} of {updates.Count} inputs, and {Inner.Name} failed on the remaining {kept.Count}: {ex.Message}",
                nameof(updates),
                ex);
        }

        var selected = inner.Selected.Select(s => kept[s]).ToList();
        selected.Sort();
        var flagged = new List<FlaggedInput>(report.Flagged);
        flagged.AddRange(inner.Flagged.Select(f => f with { Index = kept[f.Index] }));
        flagged.Sort((x, y) => x.Index.CompareTo(y.Index));
        return new AggregationResult(inner.Aggregate, selected, flagged, report.Scores);
    }
}
