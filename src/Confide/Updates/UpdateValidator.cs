using System.Globalization;
using System.Numerics.Tensors;

namespace Confide.Updates;

/// <summary>
/// The one gate every update passes before any aggregator: the layout matches, every value is finite, the sample count is
/// positive and bounded, the norm is bounded (when asked), and no client id appears twice in a batch. Each refused update
/// comes back with its client id and a reason; none is dropped silently.
/// </summary>
public sealed class UpdateValidator
{
    /// <summary>Creates a validator for <paramref name="options"/>.</summary>
    public UpdateValidator(UpdateValidationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The requirements.</summary>
    public UpdateValidationOptions Options { get; }

    /// <summary>
    /// Validates a batch. Updates that share a client id are all rejected: the validator cannot tell which one is genuine
    /// (a replay or a misconfigured client), and letting the first win would reward whoever sends first.
    /// </summary>
    public UpdateValidationResult Validate(IReadOnlyList<ClientUpdate> updates)
    {
        ArgumentNullException.ThrowIfNull(updates);
        var positions = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < updates.Count; i++)
        {
            var update = updates[i] ?? throw new ArgumentException($"Update {i} is null.", nameof(updates));
            if (!positions.TryGetValue(update.ClientId, out var list))
            {
                positions.Add(update.ClientId, list = []);
            }

            list.Add(i);
        }

        var accepted = new List<ClientUpdate>();
        var acceptedIndices = new List<int>();
        var rejected = new List<RejectedUpdate>();
        for (int i = 0; i < updates.Count; i++)
        {
            var update = updates[i];
            var same = positions[update.ClientId];
            string? reason = same.Count > 1
                ? $"client id '{update.ClientId}' appears {same.Count} times in this batch (updates {string.Join(", ", same)}); none of them is accepted"
                : Check(update);
            if (reason is null)
            {
                accepted.Add(update);
                acceptedIndices.Add(i);
            }
            else
            {
                rejected.Add(new RejectedUpdate(update.ClientId, reason, i));
            }
        }

        return new UpdateValidationResult(accepted, acceptedIndices, rejected);
    }

    /// <summary>Checks one update on its own (everything but duplicate ids); returns null when it is acceptable, else the reason.</summary>
    public string? Check(ClientUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        string? difference = Options.ExpectedLayout.DescribeDifference(update.Delta.Layout);
        if (difference is not null)
        {
            return $"its layout differs from the expected one: {difference}";
        }

        if (update.SampleCount <= 0)
        {
            return $"sample count {update.SampleCount} is not positive";
        }

        if (update.SampleCount > Options.MaxSampleCount)
        {
            return $"sample count {update.SampleCount} exceeds the bound {Options.MaxSampleCount}";
        }

        ReadOnlySpan<float> values = update.Delta.AsSpan();

        // One vectorised pass over the whole vector; only a failing update pays for locating the bad value.
        if (!TensorPrimitives.IsFiniteAll(values))
        {
            return DescribeFirstNonFinite(update);
        }

        if (Options.MaxNorm is double bound)
        {
            double norm = Norm(values);
            if (norm > bound)
            {
                return string.Create(CultureInfo.InvariantCulture, $"L2 norm {norm:G6} exceeds the bound {bound:G6}");
            }
        }

        return null;
    }

    private static string DescribeFirstNonFinite(ClientUpdate update)
    {
        foreach (var spec in update.Delta.Layout.Tensors)
        {
            ReadOnlySpan<float> tensor = update.Delta.Tensor(spec);
            for (int i = 0; i < tensor.Length; i++)
            {
                if (!float.IsFinite(tensor[i]))
                {
                    string what = float.IsNaN(tensor[i]) ? "NaN" : tensor[i] > 0 ? "+infinity" : "-infinity";
                    return $"tensor '{spec.Name}' element {i} is {what}; every value must be finite";
                }
            }
        }

        throw new InvalidOperationException("A non-finite value was detected but not located.");
    }

    private static double Norm(ReadOnlySpan<float> values)
    {
        double norm = TensorPrimitives.Norm(values);
        if (!double.IsFinite(norm))
        {
            // The float sum of squares overflowed although every value is finite; redo it in double.
            double sum = 0;
            foreach (float v in values)
            {
                sum += (double)v * v;
            }

            norm = Math.Sqrt(sum);
        }

        return norm;
    }
}
