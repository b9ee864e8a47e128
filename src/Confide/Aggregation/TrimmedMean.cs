using System.Globalization;
using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// The coordinate-wise β-trimmed mean: per coordinate, drop the k = ⌊β·n⌋ smallest and the k largest values and
/// average the n − 2k that remain.
/// </summary>
/// <remarks>
/// Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates",
/// ICML 2018.
/// <para>
/// The trim count per side is k = ⌊β·n⌋, computed with a relative allowance of 1e-12 so that β = k/n trims exactly k
/// despite rounding (0.29 × 100 is 28.999999999999996 in double). β may be 0 (the plain mean) up to 0.5; the method
/// requires n &gt; 2k, so β = 0.5 works for odd n (it is then the median) and is rejected for even n.
/// With f outliers and k ≥ f, every coordinate stays within the range of the honest values.
/// </para>
/// <para>
/// Unweighted: the weights are checked but do not enter the result, as in the paper. The trimming is per coordinate,
/// so no update is excluded as a whole: <see cref="AggregationResult.Selected"/> lists every input and nothing is
/// flagged. ±∞ are ordered like any extreme value (an ∞ that is not trimmed makes the result non-finite, which is an
/// <see cref="ArgumentException"/>); NaN is an <see cref="ArgumentException"/>.
/// </para>
/// </remarks>
public sealed class TrimmedMean : IAggregator
{
    /// <summary>Creates the aggregator.</summary>
    /// <param name="beta">The fraction trimmed from each side, in [0, 0.5].</param>
    public TrimmedMean(double beta)
    {
        if (!(beta >= 0 && beta <= 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"trimmed-mean: β = {beta.ToString(CultureInfo.InvariantCulture)} is out of range; expected 0 ≤ β ≤ 0.5 (the fraction trimmed from each side).");
        }

        Beta = beta;
    }

    /// <summary>The fraction trimmed from each side.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "trimmed-mean";

    /// <summary>The number of values trimmed from each side for <paramref name="n"/> updates: ⌊β·n⌋.</summary>
    public int TrimCount(int n) => (int)Math.Floor(Beta * n * (1 + 1e-12));

    /// <inheritdoc/>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int dimension = UpdateBatch.Validate(Name, updates, weights);
        int n = updates.Count;
        int trim = TrimCount(n);
        if (n <= 2 * trim)
        {
            throw new ArgumentException(
                $"trimmed-mean: β = {Beta.ToString(CultureInfo.InvariantCulture)} trims {trim} per side of {n} updates; needs n > 2·trim = {2 * trim}.",
                nameof(updates));
        }

        var aggregate = CoordinateOrderStatistics.MeanOfMiddle(Name, updates, dimension, trim);
        int bad = VectorKernels.IndexOfNonFinite(aggregate);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"trimmed-mean: coordinate {bad} of the result is {aggregate[bad]}; an infinite input survived the trimming. Expected finite values.",
                nameof(updates));
        }

        return new AggregationResult(aggregate, FedAvg.AllIndices(n), []);
    }
}
