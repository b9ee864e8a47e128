using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Multi-Krum: Blanchard, El Mhamdi, Guerraoui and Stainer, "Machine Learning with Adversaries: Byzantine Tolerant
/// Gradient Descent", NeurIPS 2017 (section 4). Inputs are scored as in <see cref="Krum"/> (sum of squared distances
/// to the n − f − 2 nearest others), and the m inputs with the lowest scores are averaged.
/// </summary>
/// <remarks>
/// <para>Requires n &gt; 2f + 2 and 1 ≤ m ≤ n − f: averaging more than n − f inputs would always include a Byzantine one.</para>
/// <para>The average is unweighted, as in the paper: every selected input counts 1/m, and the weights are only checked
/// (one positive weight per input, or none). Flower's <c>aggregate_krum</c> instead averages the kept updates by sample
/// count; that lets a Byzantine client that survives selection inflate its influence by claiming many samples, so we keep
/// the paper's rule. Ties between equal scores go to the lexicographically smaller vector, so the result does not depend on the order of the inputs.</para>
/// <para>The result reports the selected indices, every input's Krum score, and each excluded input with its score and rank.</para>
/// </remarks>
public sealed class MultiKrum : IAggregator
{
    /// <summary>Creates Multi-Krum tolerating <paramref name="f"/> Byzantine inputs and averaging the <paramref name="m"/> best.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="f"/> is negative or <paramref name="m"/> is below 1.</exception>
    public MultiKrum(int f, int m)
    {
        RobustInputChecks.CheckByzantineCount(f, nameof(f));
        if (m < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(m), m, $"Multi-Krum must keep m ≥ 1 inputs, not {m}.");
        }

        F = f;
        M = m;
    }

    /// <summary>The number of Byzantine inputs tolerated.</summary>
    public int F { get; }

    /// <summary>How many of the best-scored inputs are averaged.</summary>
    public int M { get; }

    /// <inheritdoc />
    public string Name => "multi-krum";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">n ≤ 2f + 2, m &gt; n − f, lengths differ, bad weights or a non-finite value.</exception>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int d = RobustInputChecks.CheckUpdates("Multi-Krum", updates, weights);
        int n = updates.Count;
        KrumScoring.CheckQuorum("Multi-Krum", n, F);
        if (M > n - F)
        {
            throw new ArgumentException(
                $"Multi-Krum: m = {M} exceeds n − f = {n - F} (n = {n}, f = {F}); averaging more than n − f inputs always includes a Byzantine one.",
                nameof(updates));
        }

        var (scores, ranking) = KrumScoring.ScoreAll(updates, F);
        int[] selected = ranking[..M];
        Array.Sort(selected);

        var flagged = new List<FlaggedInput>(n - M);
        for (int rank = M; rank < n; rank++)
        {
            int i = ranking[rank];
            flagged.Add(new FlaggedInput(
                i,
                $"excluded by Multi-Krum (f = {F}, m = {M}): score {KrumScoring.Format(scores[i])} ranked {rank + 1} of {n}, " +
                $"above the {M} best (worst kept score {KrumScoring.Format(scores[ranking[M - 1]])})"));
        }

        flagged.Sort((x, y) => x.Index.CompareTo(y.Index));
        float[] aggregate = ParallelLinearCombination.Compute(updates, selected, Enumerable.Repeat(1.0, M).ToArray(), M, d);
        return new AggregationResult(aggregate, selected, flagged, scores);
    }
}
