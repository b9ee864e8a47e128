using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Bulyan: El Mhamdi, Guerraoui and Rouault, "The Hidden Vulnerability of Distributed Learning in Byzantium",
/// ICML 2018. Bulyan first selects θ = n − 2f inputs by repeated Krum — Krum picks the best-scored input, which is
/// removed from the candidates, and the scores are recomputed on the remaining set — and then, for every coordinate,
/// averages the β = θ − 2f selected values closest to that coordinate's median.
/// </summary>
/// <remarks>
/// <para>Requires n ≥ 4f + 3 (so θ ≥ 2f + 3 and β ≥ 3).</para>
/// <para>In each selection round on a remaining set R, an input's Krum score is the sum of squared distances to its
/// max(1, |R| − f − 2) nearest others in R. In the last rounds |R| − f − 2 drops below 1 (R shrinks to 2f + 1), so at
/// least one neighbour is always used; the coordinate-wise phase is what bounds a Byzantine input that slips through then.
/// Pairwise distances are computed once (Gram matrix, parallel, in double) and reused by every round; with each input's
/// neighbours sorted once, the rounds cost O(θ·n²) on the n×n matrix.</para>
/// <para>For an even θ the median is the midpoint of the two middle values; when two values are equally close to the
/// median, the smaller is kept. Ties between equal Krum scores (with one neighbour the two members of the closest pair always
/// tie) go to the lexicographically smaller vector, so the result does not depend on the order of the inputs.</para>
/// <para>Weights are checked (one positive weight per input, or none) but otherwise ignored, as in the paper.</para>
/// <para><see cref="AggregationResult.Selected"/> lists the θ inputs of the Krum phase; every other input is flagged with
/// its Krum score over the whole set. <see cref="AggregationResult.Scores"/> holds those whole-set Krum scores.</para>
/// </remarks>
public sealed class Bulyan : IAggregator
{
    /// <summary>Creates Bulyan tolerating <paramref name="f"/> Byzantine inputs.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="f"/> is negative.</exception>
    public Bulyan(int f)
    {
        RobustInputChecks.CheckByzantineCount(f, nameof(f));
        F = f;
    }

    /// <summary>The number of Byzantine inputs tolerated.</summary>
    public int F { get; }

    /// <inheritdoc />
    public string Name => "bulyan";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">n &lt; 4f + 3, lengths differ, bad weights or a non-finite value.</exception>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int d = RobustInputChecks.CheckUpdates("Bulyan", updates, weights);
        int n = updates.Count;
        if (n < (4 * F) + 3)
        {
            throw new ArgumentException(
                $"Bulyan needs n ≥ 4f + 3 inputs (El Mhamdi et al. 2018): got n = {n} with f = {F}, so at least {(4 * F) + 3} inputs are required.",
                nameof(updates));
        }

        int theta = n - (2 * F);
        int beta = theta - (2 * F);
        double[] distances = PairwiseDistances.SquaredEuclidean(updates);
        int[] everyone = Enumerable.Range(0, n).ToArray();
        double[] wholeSetScores = KrumScoring.Scores(distances, n, everyone, n - F - 2);

        List<int> selected = KrumScoring.RepeatedSelection(distances, n, F, theta, updates);
        selected.Sort();
        int[] wholeSetRanking = KrumScoring.Ranking(wholeSetScores, updates, everyone);
        var rankOf = new int[n];
        for (int r = 0; r < n; r++)
        {
            rankOf[wholeSetRanking[r]] = r + 1;
        }

        var flagged = new List<FlaggedInput>(n - theta);
        foreach (int i in everyone.Except(selected))
        {
            flagged.Add(new FlaggedInput(
                i,
                $"excluded by Bulyan (f = {F}): not among the θ = {theta} inputs chosen by repeated Krum; " +
                $"Krum score over all {n} inputs {KrumScoring.Format(wholeSetScores[i])}, ranked {rankOf[i]} of {n}"));
        }

        float[] aggregate = ClosestToMedianMean.Compute(updates, selected, beta, d);
        return new AggregationResult(aggregate, selected, flagged, wholeSetScores);
    }
}
