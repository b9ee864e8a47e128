using Confide.Randomness;

namespace Confide.Training.Partitioning;

/// <summary>
/// Splits a data set's sample indices among clients. Every partitioner assigns each sample to exactly one client,
/// and the result is fixed by the labels and the random source.
/// </summary>
public interface IPartitioner
{
    /// <summary>The name as the CLI spells it, with parameters (for example "dirichlet:0.5").</summary>
    string Name { get; }

    /// <summary>The sample indices of each client, each list ascending.</summary>
    /// <exception cref="ArgumentException">The data set cannot be split this way (too few samples for the clients).</exception>
    int[][] Partition(ReadOnlySpan<int> labels, int classCount, int clients, IRandomSource random);
}
