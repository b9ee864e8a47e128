using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;

namespace Confide.Training.Partitioning;

/// <summary>
/// Quantity skew (NIID-Bench, Li et al. 2021, "q~Dir(β)"): client data-set sizes follow proportions q ~ Dir(β·1)
/// while labels stay IID; smaller β gives more unequal sizes. The draw is repeated until every client has at least
/// <see cref="MinimumPerClient"/> samples (capped at a quarter of the fair share n / (4·clients), so small data sets
/// stay feasible).
/// </summary>
public sealed class QuantitySkewPartitioner : IPartitioner
{
    private const int MaxAttempts = 1000;

    /// <summary>Creates the partitioner.</summary>
    public QuantitySkewPartitioner(double beta, int minimumPerClient = 10)
    {
        if (!(beta > 0) || !double.IsFinite(beta))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "The Dirichlet concentration β must be a finite positive number.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumPerClient);
        Beta = beta;
        MinimumPerClient = minimumPerClient;
    }

    /// <summary>The concentration β.</summary>
    public double Beta { get; }

    /// <summary>The least number of samples per client.</summary>
    public int MinimumPerClient { get; }

    /// <inheritdoc/>
    public string Name => FormattableString.Invariant($"quantity:{Beta}");

    /// <inheritdoc/>
    public int[][] Partition(ReadOnlySpan<int> labels, int classCount, int clients, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        PartitionHelpers.Check(labels.Length, classCount, clients);
        // On small data sets the NIID-Bench minimum of 10 can be unreachable; never ask for more than a quarter of a fair share.
        int minimum = Math.Min(MinimumPerClient, Math.Max(1, labels.Length / (4 * clients)));
        var order = DatasetSplitter.Permutation(labels.Length, random);
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var q = Sampling.Dirichlet(Beta, clients, random);
            var parts = Enumerable.Range(0, clients).Select(_ => new List<int>()).ToArray();
            PartitionHelpers.CutByProportions(order, q, parts);
            if (parts.All(p => p.Count >= minimum))
            {
                return PartitionHelpers.Sorted(parts);
            }
        }

        throw new ArgumentException($"Dir(β = {Beta}) did not give each of {clients} clients {minimum} samples in {MaxAttempts} draws; use fewer clients or a larger β.");
    }
}
