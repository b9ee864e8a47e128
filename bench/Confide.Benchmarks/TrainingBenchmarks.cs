using BenchmarkDotNet.Attributes;
using Confide.Randomness;
using Confide.Training;
using Confide.Training.Data;
using Confide.Training.Models;

namespace Confide.Benchmarks;

/// <summary>
/// One training epoch over 60,000 images of 28 × 28 (synthetic pixels with Fashion-MNIST's shape, so the benchmark needs
/// no download; the cost does not depend on pixel values), batch 64, SGD lr 0.05 momentum 0.9, batch split over 2 threads.
/// Target: MLP 784-200-10 in ≤ 3 s on 2 cores (PyTorch 1.13 CPU, 1 thread: ~12 s).
/// Run: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*TrainingBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class TrainingBenchmarks
{
    private Dataset _data = null!;
    private SgdClassifier _mlp = null!;
    private SgdClassifier _cnn = null!;
    private readonly TrainingOptions _options = new() { Epochs = 1, BatchSize = 64, LearningRate = 0.05, Momentum = 0.9, Parallelism = 2 };

    [GlobalSetup]
    public void Setup()
    {
        _data = SyntheticImages(60_000, 28, seed: 1);
        _mlp = new SgdClassifier(new MultilayerPerceptron(new ImageShape(1, 28, 28), [200], 10), new SeededRandomSource(1));
        _cnn = new SgdClassifier(new ConvNet(ConvNetOptions.NiidBench(new ImageShape(1, 28, 28), 10)), new SeededRandomSource(1));
    }

    [Benchmark(Description = "MLP 784-200-10, one epoch of 60k")]
    public TrainingReport MlpEpoch() => _mlp.Train(_data, _options, new SeededRandomSource(2));

    [Benchmark(Description = "NIID-Bench CNN, one epoch of 60k")]
    public TrainingReport CnnEpoch() => _cnn.Train(_data, _options, new SeededRandomSource(2));

    /// <summary>Images with Fashion-MNIST's shape: pixels in [0, 1), about half of them zero as in the real set.</summary>
    internal static Dataset SyntheticImages(int count, int side, ulong seed)
    {
        IRandomSource rng = new SeededRandomSource(seed);
        var x = new float[count * side * side];
        for (int i = 0; i < x.Length; i++)
        {
            double u = rng.NextDouble();
            x[i] = u < 0.5 ? 0f : (float)((u - 0.5) * 2);
        }

        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = rng.NextInt32(10);
        }

        return new Dataset("synthetic", new ImageShape(1, side, side), 10, x, y);
    }
}
