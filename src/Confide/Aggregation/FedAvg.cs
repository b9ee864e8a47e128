using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Federated Averaging: the weighted mean Σ wᵢ·xᵢ / Σ wᵢ of the updates, with the weights normally the clients'
/// sample counts.
/// </summary>
/// <remarks>
/// McMahan, Moore, Ramage, Hampson and Agüera y Arcas, "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data", AISTATS 2017.
/// <para>
/// It streams: the coordinates are walked in L1-sized blocks and each update's block is added into the output block,
/// so the extra memory is the O(d) output and each input is read once. It is not robust: one update can move the
/// result arbitrarily far. A non-finite result (a NaN or ∞ in an input, or an overflow) is an
/// <see cref="ArgumentException"/> naming the input, never a silently wrong aggregate.
/// </para>
/// </remarks>
public sealed class FedAvg : IAggregator
{
    /// <inheritdoc/>
    public string Name => "fedavg";

    /// <inheritdoc/>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int dimension = UpdateBatch.Validate(Name, updates, weights);
        int n = updates.Count;

        double total = 0;
        foreach (double w in weights)
        {
            total += w;
        }

        var coefficients = new float[n];
        for (int i = 0; i < n; i++)
        {
            coefficients[i] = (float)(weights[i] / total);
        }

        // Every element is written by the weighted sum, so the array need not be zeroed first.
        var aggregate = GC.AllocateUninitializedArray<float>(dimension);
        VectorKernels.WeightedSum(updates, coefficients, aggregate);

        // NaN and ∞ propagate through a weighted sum, so checking the output finds any non-finite input for O(d).
        int bad = VectorKernels.IndexOfNonFinite(aggregate);
        if (bad >= 0)
        {
            throw UpdateBatch.NonFiniteResult(Name, updates, bad);
        }

        return new AggregationResult(aggregate, AllIndices(n), []);
    }

    internal static int[] AllIndices(int n)
    {
        var all = new int[n];
        for (int i = 0; i < n; i++)
        {
            all[i] = i;
        }

        return all;
    }
}
