using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// The coordinate-wise median: each coordinate of the result is the median of that coordinate over the updates
/// (the mean of the two middle values when n is even).
/// </summary>
/// <remarks>
/// Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates",
/// ICML 2018.
/// <para>
/// Unweighted: the weights are checked (one positive weight per update) but do not enter the result, as in the paper.
/// While fewer than half the updates are outliers, every coordinate stays within the range of the honest values.
/// The median is taken per coordinate, so no update is excluded as a whole: <see cref="AggregationResult.Selected"/>
/// lists every input and nothing is flagged. ±∞ are ordered like any extreme value (a non-finite median is an
/// <see cref="ArgumentException"/>); NaN is an <see cref="ArgumentException"/>.
/// </para>
/// <para>
/// Speed: the coordinates are processed in L1-sized blocks through a pruned SIMD sorting network, in parallel over blocks.
/// </para>
/// </remarks>
public sealed class CoordinateMedian : IAggregator
{
    /// <inheritdoc/>
    public string Name => "median";

    /// <inheritdoc/>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int dimension = UpdateBatch.Validate(Name, updates, weights);
        int n = updates.Count;
        // The median is the mean of the middle one (odd n) or two (even n) order statistics.
        var aggregate = CoordinateOrderStatistics.MeanOfMiddle(Name, updates, dimension, trim: (n - 1) / 2);
        int bad = VectorKernels.IndexOfNonFinite(aggregate);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"median: coordinate {bad} of the result is {aggregate[bad]}; at least half the inputs are infinite there. Expected finite values.",
                nameof(updates));
        }

        return new AggregationResult(aggregate, FedAvg.AllIndices(n), []);
    }
}
