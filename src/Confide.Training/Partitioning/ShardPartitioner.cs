using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;

namespace Confide.Training.Partitioning;

/// <summary>
/// McMahan et al.'s pathological non-IID split (2017, "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data"): sort the samples by label, cut them into clients × s shards of (nearly) equal size and give each
/// client s shards at random, so most clients see only about s labels. Ties within a label are broken at random.
/// </summary>
public sealed class ShardPartitioner : IPartitioner
{
    /// <summary>Creates the partitioner with <paramref name="shardsPerClient"/> shards per client.</summary>
    public ShardPartitioner(int shardsPerClient)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardsPerClient);
        ShardsPerClient = shardsPerClient;
    }

    /// <summary>Shards per client (s).</summary>
    public int ShardsPerClient { get; }

    /// <inheritdoc/>
    public string Name => $"shards:{ShardsPerClient}";

    /// <inheritdoc/>
    public int[][] Partition(ReadOnlySpan<int> labels, int classCount, int clients, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        PartitionHelpers.Check(labels.Length, classCount, clients);
        int shards = checked(clients * ShardsPerClient);
        if (shards > labels.Length)
        {
            throw new ArgumentException($"{clients} clients × {ShardsPerClient} shards need at least {shards} samples; the data set has {labels.Length}.");
        }

        var order = DatasetSplitter.Permutation(labels.Length, random);
        var labelArray = labels.ToArray();
        // A stable sort by label of a random permutation: sorted by label, random within a label.
        var sorted = order.OrderBy(i => labelArray[i]).ToArray();
        var shardOrder = DatasetSplitter.Permutation(shards, random);
        var parts = new int[clients][];
        for (int j = 0; j < clients; j++)
        {
            var mine = new List<int>();
            for (int s = 0; s < ShardsPerClient; s++)
            {
                int shard = shardOrder[(j * ShardsPerClient) + s];
                int from = (int)((long)shard * labels.Length / shards);
                int to = (int)((long)(shard + 1) * labels.Length / shards);
                mine.AddRange(sorted[from..to]);
            }

            parts[j] = mine.Order().ToArray();
        }

        return parts;
    }
}
