namespace Confide.Aggregation.Internal;

/// <summary>The precondition checks every aggregator in this folder shares, with messages that name the method.</summary>
internal static class UpdateBatch
{
    /// <summary>
    /// Checks that there is at least one update, that all updates have the length of the first, and that there is
    /// one positive finite weight per update. Returns the common length.
    /// </summary>
    public static int Validate(string method, IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
        {
            throw new ArgumentException($"{method}: needs at least one update, got 0.", nameof(updates));
        }

        int dimension = updates[0].Length;
        for (int i = 1; i < updates.Count; i++)
        {
            if (updates[i].Length != dimension)
            {
                throw new ArgumentException(
                    $"{method}: update {i} has {updates[i].Length} values, expected {dimension} (the length of update 0).", nameof(updates));
            }
        }

        if (weights.Length != updates.Count)
        {
            throw new ArgumentException(
                $"{method}: got {weights.Length} weights for {updates.Count} updates; expected one weight per update.", nameof(weights));
        }

        double total = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            if (!double.IsFinite(weights[i]) || weights[i] <= 0)
            {
                throw new ArgumentException(
                    $"{method}: weight {i} is {weights[i]}; expected a positive finite number (normally the sample count).", nameof(weights));
            }

            total += weights[i];
        }

        if (!double.IsFinite(total))
        {
            throw new ArgumentException($"{method}: the weights sum to {total}; expected a finite total.", nameof(weights));
        }

        return dimension;
    }

    /// <summary>Throws if any update holds a NaN or an infinity, naming the first one found.</summary>
    public static void RequireFinite(string method, IReadOnlyList<ReadOnlyMemory<float>> updates)
    {
        for (int i = 0; i < updates.Count; i++)
        {
            if (VectorKernels.IndexOfNonFinite(updates[i].Span) >= 0)
            {
                throw NonFiniteInput(method, i, updates[i].Span);
            }
        }
    }

    /// <summary>
    /// Called when an aggregate came out non-finite: finds the input to blame, or reports an overflow of finite inputs.
    /// </summary>
    public static ArgumentException NonFiniteResult(string method, IReadOnlyList<ReadOnlyMemory<float>> updates, int coordinate)
    {
        for (int i = 0; i < updates.Count; i++)
        {
            if (VectorKernels.IndexOfNonFinite(updates[i].Span) >= 0)
            {
                return NonFiniteInput(method, i, updates[i].Span);
            }
        }

        return new ArgumentException(
            $"{method}: the aggregate overflowed float32 at coordinate {coordinate}; the inputs are finite but too large.", nameof(updates));
    }

    /// <summary>The exception for update <paramref name="index"/> holding a NaN or an infinity.</summary>
    public static ArgumentException NonFiniteInput(string method, int index, ReadOnlySpan<float> update)
    {
        int at = VectorKernels.IndexOfNonFinite(update);
        string value = at >= 0 ? update[at].ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        return new ArgumentException(
            $"{method}: update {index} has the non-finite value {value} at index {at}; expected finite values.", "updates");
    }
}
