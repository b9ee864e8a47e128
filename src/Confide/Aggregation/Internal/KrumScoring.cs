namespace Confide.Aggregation.Internal;

/// <summary>Krum scores (Blanchard et al. 2017) from a precomputed squared-distance matrix.</summary>
internal static class KrumScoring
{
    /// <summary>Throws unless n &gt; 2f + 2, the condition of Blanchard et al. 2017.</summary>
    public static void CheckQuorum(string method, int n, int f)
    {
        if (n <= (2 * f) + 2)
        {
            throw new ArgumentException(
                $"{method} needs n > 2f + 2 inputs (Blanchard et al. 2017): got n = {n} with f = {f}, so at least {(2 * f) + 3} inputs are required.",
                "updates");
        }
    }

    /// <summary>
    /// Krum scores of every input over the whole set (each input's n − f − 2 nearest others), with the
    /// ranking of the inputs by ascending score (ties by input order).
    /// </summary>
    public static (double[] Scores, int[] Ranking) ScoreAll(IReadOnlyList<ReadOnlyMemory<float>> updates, int f)
    {
        int n = updates.Count;
        double[] distances = PairwiseDistances.SquaredEuclidean(updates);
        int[] everyone = Enumerable.Range(0, n).ToArray();
        double[] scores = Scores(distances, n, everyone, n - f - 2);
        return (scores, Ranking(scores, updates, everyone));
    }

    /// <summary>
    /// Bulyan's selection phase: <paramref name="count"/> rounds of Krum, each scoring the remaining inputs with
    /// max(1, |R| − f − 2) neighbours within the remaining set R, taking the best and removing it. Returns the picks in order.
    /// </summary>
    /// <remarks>
    /// Each input's neighbours are sorted by distance once; a round then walks those lists, skipping removed inputs, so a
    /// round costs O(n²) rather than O(n² log n), and the whole phase O(θ·n²).
    /// </remarks>
    public static List<int> RepeatedSelection(double[] distances, int n, int f, int count, IReadOnlyList<ReadOnlyMemory<float>> updates)
    {
        var neighbours = new int[n][];
        for (int i = 0; i < n; i++)
        {
            int self = i;
            int[] order = Enumerable.Range(0, n).Where(j => j != self).ToArray();
            double[] keys = order.Select(j => distances[(self * n) + j]).ToArray();
            Array.Sort(keys, order);
            neighbours[i] = order;
        }

        var removed = new bool[n];
        var remaining = Enumerable.Range(0, n).ToList();
        var picks = new List<int>(count);
        var scores = new double[n];
        while (picks.Count < count && remaining.Count > 0)
        {
            int k = Math.Max(1, remaining.Count - f - 2);
            foreach (int i in remaining)
            {
                double score = 0;
                int taken = 0;
                foreach (int j in neighbours[i])
                {
                    if (taken == k)
                    {
                        break;
                    }

                    if (!removed[j])
                    {
                        score += distances[(i * n) + j];
                        taken++;
                    }
                }

                scores[i] = score;
            }

            double[] roundScores = remaining.Select(i => scores[i]).ToArray();
            int best = Ranking(roundScores, updates, remaining)[0];
            picks.Add(remaining[best]);
            removed[remaining[best]] = true;
            remaining.RemoveAt(best);
        }

        return picks;
    }

    /// <summary>Formats a score for a reason message.</summary>
    public static string Format(double value) => value.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// For each index in <paramref name="members"/>, the sum of its squared distances to its
    /// <paramref name="neighbours"/> nearest other members. <paramref name="distances"/> is n×n row-major.
    /// </summary>
    public static double[] Scores(double[] distances, int n, IReadOnlyList<int> members, int neighbours)
    {
        var scores = new double[members.Count];
        var buffer = new double[Math.Max(0, members.Count - 1)];
        for (int s = 0; s < members.Count; s++)
        {
            int i = members[s];
            int count = 0;
            foreach (int j in members)
            {
                if (j != i)
                {
                    buffer[count++] = distances[(i * n) + j];
                }
            }

            Span<double> others = buffer.AsSpan(0, count);
            others.Sort();
            double score = 0;
            for (int k = 0; k < neighbours && k < count; k++)
            {
                score += others[k];
            }

            scores[s] = score;
        }

        return scores;
    }

    /// <summary>
    /// Positions of <paramref name="scores"/> sorted by ascending score. Equal scores (with one neighbour, the two
    /// members of the closest pair always tie) are ordered by comparing the vectors of <paramref name="members"/>
    /// lexicographically, so the order does not depend on the order of the inputs; only identical vectors fall back
    /// to input order, which cannot change an aggregate.
    /// </summary>
    public static int[] Ranking(double[] scores, IReadOnlyList<ReadOnlyMemory<float>> updates, IReadOnlyList<int> members)
    {
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (x, y) =>
        {
            int c = scores[x].CompareTo(scores[y]);
            if (c != 0)
            {
                return c;
            }

            c = Lexicographic(updates[members[x]].Span, updates[members[y]].Span);
            return c != 0 ? c : members[x].CompareTo(members[y]);
        });
        return order;
    }

    private static int Lexicographic(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int k = a.CommonPrefixLength(b);
        return k == a.Length ? 0 : a[k].CompareTo(b[k]);
    }
}
