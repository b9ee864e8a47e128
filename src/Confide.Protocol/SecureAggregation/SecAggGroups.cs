using Confide.Aggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Robust aggregation on top of secure aggregation: the clients are split at random into g groups, each group runs its
/// own round (Bonawitz et al. 2017, SecAgg+ of Bell et al. 2020) so the server learns only the g group means, and a robust
/// aggregator (median, Krum, …) combines those means.
/// </summary>
/// <remarks>
/// <para>The trade-off: the server learns the mean of groups of about n/g clients, so privacy weakens as g grows (g = n is
/// no secure aggregation at all). Robustness grows with g: a coordinate-wise median over g group means tolerates attackers
/// in fewer than half the groups, so f attackers are tolerated for certain only when g &gt; 2f (each may land in its own
/// group). With g = 1 this is plain secure aggregation and offers no robustness.</para>
/// <para>Each group must have at least 2 clients. A group whose round aborts (too many dropouts) is left out; if every group
/// aborts the call throws.</para>
/// </remarks>
public static class SecAggGroups
{
    /// <param name="updates">One float vector of length D per client.</param>
    /// <param name="weights">Each client's sample count (at most <paramref name="maxWeight"/>).</param>
    /// <param name="groups">g, the number of groups, from 1 to n/2.</param>
    /// <param name="aggregator">The robust aggregator applied to the group means, weighted by each group's total weight.</param>
    /// <param name="clipRange">Each value is clipped to [−c, c] before quantization.</param>
    /// <param name="maxWeight">The largest weight a client may have (sets the quantization headroom).</param>
    /// <param name="neighbours">The SecAgg+ neighbourhood size inside each group, or null for the full graph.</param>
    /// <param name="dropouts">Who vanishes and when, by global client id.</param>
    /// <param name="random">Every random draw: the grouping, quantization and each group's protocol secrets.</param>
    public static SecAggGroupResult Run(
        IReadOnlyList<float[]> updates,
        IReadOnlyList<long> weights,
        int groups,
        IAggregator aggregator,
        double clipRange,
        long maxWeight,
        int? neighbours,
        SecAggDropouts dropouts,
        IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(aggregator);
        ArgumentNullException.ThrowIfNull(dropouts);
        ArgumentNullException.ThrowIfNull(random);
        int n = updates.Count;
        if (weights.Count != n)
        {
            throw new ArgumentException($"{weights.Count} weights given for {n} updates.", nameof(weights));
        }

        if (groups < 1 || groups > n / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"The number of groups must be between 1 and n/2 = {n / 2}, so that every group has at least 2 clients.");
        }

        // A uniformly random assignment, so an attacker cannot pick its group.
        int[] order = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var members = new int[groups][];
        for (int g = 0; g < groups; g++)
        {
            int start = g * n / groups;
            int end = (g + 1) * n / groups;
            members[g] = order[start..end].Order().ToArray();
        }

        var rounds = new SecAggMeanResult[groups];
        var means = new List<ReadOnlyMemory<float>>();
        var groupWeights = new List<double>();
        var meanGroups = new List<int>();
        for (int g = 0; g < groups; g++)
        {
            int[] ids = members[g];
            int m = ids.Length;
            int k = Math.Min(neighbours ?? m - 1, m - 1);
            if (k < m - 1 && k % 2 == 1 && m % 2 == 1)
            {
                k--; // Odd-degree regular graphs need an even number of clients.
            }

            k = Math.Max(k, 1);
            var options = new SecAggOptions(m, (k / 2) + 1, StochasticQuantizer.EncodedLength(updates[ids[0]].Length), k);
            var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(clipRange, maxWeight, m, options.ModulusBits));
            var local = new Dictionary<int, SecAggStage>();
            for (int i = 0; i < m; i++)
            {
                if (dropouts.DropBefore.TryGetValue(ids[i], out SecAggStage stage))
                {
                    local[i] = stage;
                }
            }

            rounds[g] = SecAggSimulation.RunWeightedMean(
                ids.Select(u => updates[u]).ToArray(), ids.Select(u => weights[u]).ToArray(), quantizer, options, new SecAggDropouts(local), random.Fork((ulong)g + 1));
            if (rounds[g].Mean is { } mean)
            {
                means.Add(mean);
                groupWeights.Add(rounds[g].TotalWeight);
                meanGroups.Add(g);
            }
        }

        if (means.Count == 0)
        {
            throw new InvalidOperationException($"Every one of the {groups} secure-aggregation groups aborted; the first error: {rounds[0].Round.Error?.Message}");
        }

        AggregationResult result = aggregator.Aggregate(means, groupWeights.ToArray());

        // Report indices as group numbers, not positions among the groups that completed.
        var remapped = new AggregationResult(
            result.Aggregate,
            result.Selected.Select(i => meanGroups[i]).ToArray(),
            result.Flagged.Select(f => f with { Index = meanGroups[f.Index] }).ToArray(),
            result.Scores);
        return new SecAggGroupResult(remapped, members, rounds);
    }
}
