using Confide.Randomness;
using Confide.Training.Internal;

namespace Confide.Training.Partitioning;

/// <summary>
/// Label skew by a Dirichlet prior (Hsu, Qi, Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for
/// Federated Visual Classification"; the "#C~Dir(β)" setting of NIID-Bench, Li et al. 2021): for each class, client
/// shares p ~ Dir(α·1) split that class's samples. Smaller α gives more skew. As in NIID-Bench, a client already holding
/// its fair share (n / clients) takes no more of later classes, and the draw is repeated until every client has at
/// least <see cref="MinimumPerClient"/> samples (capped at a quarter of the fair share n / (4·clients), so small data sets
/// stay feasible).
/// </summary>
public sealed class DirichletPartitioner : IPartitioner
{
    private const int MaxAttempts = 1000;

    /// <summary>Creates the partitioner.</summary>
    /// <param name="alpha">The concentration α &gt; 0.</param>
    /// <param name="minimumPerClient">Samples every client must get (NIID-Bench uses 10).</param>
    public DirichletPartitioner(double alpha, int minimumPerClient = 10)
    {
        if (!(alpha > 0) || !double.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The Dirichlet concentration α must be a finite positive number.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumPerClient);
        Alpha = alpha;
        MinimumPerClient = minimumPerClient;
    }

    /// <summary>The concentration α.</summary>
    public double Alpha { get; }

    /// <summary>The least number of samples per client.</summary>
    public int MinimumPerClient { get; }

    /// <inheritdoc/>
    public string Name => FormattableString.Invariant($"dirichlet:{Alpha}");

    /// <inheritdoc/>
    public int[][] Partition(ReadOnlySpan<int> labels, int classCount, int clients, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        PartitionHelpers.Check(labels.Length, classCount, clients);
        // On small data sets the NIID-Bench minimum of 10 can be unreachable; never ask for more than a quarter of a fair share.
        int minimum = Math.Min(MinimumPerClient, Math.Max(1, labels.Length / (4 * clients)));
        var byClass = new List<int>[classCount];
        for (int c = 0; c < classCount; c++)
        {
            byClass[c] = [];
        }

        for (int i = 0; i < labels.Length; i++)
        {
            byClass[labels[i]].Add(i);
        }

        double fair = (double)labels.Length / clients;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var parts = Enumerable.Range(0, clients).Select(_ => new List<int>()).ToArray();
            for (int c = 0; c < classCount; c++)
            {
                var members = byClass[c].ToArray();
                Shuffle(members, random);
                var p = Sampling.Dirichlet(Alpha, clients, random);
                double sum = 0;
                for (int j = 0; j < clients; j++)
                {
                    if (parts[j].Count >= fair)
                    {
                        p[j] = 0;
                    }

                    sum += p[j];
                }

                if (sum <= 0)
                {
                    // Every client is at its fair share: spread this class evenly.
                    Array.Fill(p, 1.0 / clients);
                }
                else
                {
                    for (int j = 0; j < clients; j++)
                    {
                        p[j] /= sum;
                    }
                }

                PartitionHelpers.CutByProportions(members, p, parts);
            }

            if (parts.All(part => part.Count >= minimum))
            {
                return PartitionHelpers.Sorted(parts);
            }
        }

        throw new ArgumentException(
            $"Dirichlet(α = {Alpha}) did not give each of {clients} clients {minimum} samples in {MaxAttempts} draws; use fewer clients or a larger α.");
    }

    private static void Shuffle(int[] items, IRandomSource random)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
