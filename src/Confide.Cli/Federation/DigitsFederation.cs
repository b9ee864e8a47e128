using Confide.Parameters;
using Confide.Randomness;
using Confide.Training;
using Confide.Training.Data;
using Confide.Training.Models;
using Confide.Training.Partitioning;

namespace Confide.Cli.Federation;

/// <summary>
/// The built-in task of <c>confide server</c> and <c>confide client</c>: softmax regression on the embedded UCI digits
/// (64 pixels, 10 classes), the data split IID into shards so several clients on one machine hold different data.
/// </summary>
internal static class DigitsFederation
{
    /// <summary>The shared model architecture.</summary>
    public static SoftmaxRegression Model() => new(new ImageShape(1, 8, 8), 10);

    /// <summary>The initial global model (a fixed, public initialisation).</summary>
    public static ModelParameters InitialModel()
    {
        var model = Model();
        var parameters = ModelParameters.Zeros(model.Layout);
        model.Initialize(parameters.AsSpan(), new SeededRandomSource(0));
        return parameters;
    }

    /// <summary>Shard <paramref name="shard"/> of <paramref name="shards"/> of the digits, split IID with <paramref name="seed"/>.</summary>
    public static Dataset Shard(int shard, int shards, ulong seed)
    {
        if (shards < 1 || shard < 0 || shard >= shards)
        {
            throw new ArgumentException($"--shard must be i/n with 0 ≤ i < n; got {shard}/{shards}.");
        }

        var all = DigitsDataset.Load();
        int[][] parts = new IidPartitioner().Partition(all.Labels, all.ClassCount, shards, new SeededRandomSource(seed));
        return all.Subset(parts[shard], $"digits shard {shard}/{shards}");
    }
}
