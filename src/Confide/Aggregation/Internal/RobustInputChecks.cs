namespace Confide.Aggregation.Internal;

/// <summary>Argument checks shared by the selection-based aggregators (Krum, Multi-Krum, Bulyan, FLTrust, anomaly filters).</summary>
internal static class RobustInputChecks
{
    /// <summary>
    /// Checks that there is at least one update, that all updates have one length, and that
    /// <paramref name="weights"/> is empty or holds one positive finite weight per update. Returns the common length.
    /// </summary>
    public static int CheckUpdates(string method, IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
        {
            throw new ArgumentException($"{method}: no updates to aggregate; expected at least one.", nameof(updates));
        }

        int d = updates[0].Length;
        for (int i = 1; i < updates.Count; i++)
        {
            if (updates[i].Length != d)
            {
                throw new ArgumentException(
                    $"{method}: update {i} has {updates[i].Length} values but update 0 has {d}; all updates must have the same length.",
                    nameof(updates));
            }
        }

        if (weights.Length != 0 && weights.Length != updates.Count)
        {
            throw new ArgumentException(
                $"{method}: {weights.Length} weights for {updates.Count} updates; expected one weight per update (or none).",
                nameof(weights));
        }

        for (int i = 0; i < weights.Length; i++)
        {
            if (!(weights[i] > 0) || !double.IsFinite(weights[i]))
            {
                throw new ArgumentException($"{method}: weight {i} is {weights[i]}; weights must be positive and finite.", nameof(weights));
            }
        }

        return d;
    }

    /// <summary>Throws when <paramref name="f"/> is negative.</summary>
    public static void CheckByzantineCount(int f, string paramName)
    {
        if (f < 0)
        {
            throw new ArgumentOutOfRangeException(paramName, f, $"The number of Byzantine inputs f must be ≥ 0, not {f}.");
        }
    }
}
