using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;

namespace Confide.Training.Partitioning;

/// <summary>IID: a random permutation cut into near-equal parts (sizes differ by at most one).</summary>
public sealed class IidPartitioner : IPartitioner
{
    /// <inheritdoc/>
    public string Name => "iid";

    /// <inheritdoc/>
    public int[][] Partition(ReadOnlySpan<int> labels, int classCount, int clients, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        PartitionHelpers.Check(labels.Length, classCount, clients);
        var order = DatasetSplitter.Permutation(labels.Length, random);
        var parts = new int[clients][];
        for (int j = 0; j < clients; j++)
        {
            int from = (int)((long)j * labels.Length / clients);
            int to = (int)((long)(j + 1) * labels.Length / clients);
            parts[j] = order[from..to].Order().ToArray();
        }

        return parts;
    }
}
