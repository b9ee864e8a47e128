using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Krum: Blanchard, El Mhamdi, Guerraoui and Stainer, "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent", NeurIPS 2017. Each input's score is the sum of its squared Euclidean distances to its
/// n − f − 2 nearest other inputs; the input with the lowest score is returned unchanged.
/// </summary>
/// <remarks>
/// <para>Requires n &gt; 2f + 2. Ties between equal scores go to the lexicographically smaller vector, so the result does not depend on the order of the inputs.</para>
/// <para>Weights are checked (one positive weight per input, or none) but otherwise ignored: the paper's rule does not use them.</para>
/// <para>The result reports the chosen index in <see cref="AggregationResult.Selected"/>, every input's Krum score in
/// <see cref="AggregationResult.Scores"/>, and every other input in <see cref="AggregationResult.Flagged"/> with its score and rank.</para>
/// <para>Distances come from the Gram matrix, blocked over coordinates and parallel across cores, in double.</para>
/// </remarks>
public sealed class Krum : IAggregator
{
    /// <summary>Creates Krum tolerating <paramref name="f"/> Byzantine inputs.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="f"/> is negative.</exception>
    public Krum(int f)
    {
        RobustInputChecks.CheckByzantineCount(f, nameof(f));
        F = f;
    }

    /// <summary>The number of Byzantine inputs tolerated.</summary>
    public int F { get; }

    /// <inheritdoc />
    public string Name => "krum";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">n ≤ 2f + 2, lengths differ, bad weights or a non-finite value.</exception>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        RobustInputChecks.CheckUpdates("Krum", updates, weights);
        int n = updates.Count;
        KrumScoring.CheckQuorum("Krum", n, F);

        var (scores, ranking) = KrumScoring.ScoreAll(updates, F);
        int best = ranking[0];
        var flagged = new List<FlaggedInput>(n - 1);
        for (int rank = 1; rank < n; rank++)
        {
            int i = ranking[rank];
            flagged.Add(new FlaggedInput(
                i,
                $"excluded by Krum (f = {F}): score {KrumScoring.Format(scores[i])} ranked {rank + 1} of {n}; " +
                $"input {best} had the best score, {KrumScoring.Format(scores[best])}"));
        }

        flagged.Sort((x, y) => x.Index.CompareTo(y.Index));
        return new AggregationResult(updates[best].ToArray(), [best], flagged, scores);
    }
}
