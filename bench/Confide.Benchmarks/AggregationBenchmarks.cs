using BenchmarkDotNet.Attributes;
using Confide.Aggregation;
using Confide.Randomness;

namespace Confide.Benchmarks;

/// <summary>
/// The statistical aggregators on seeded normal float32 updates.
/// Run with: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*AggregationBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class AggregationBenchmarks
{
    private ReadOnlyMemory<float>[] _updates = [];
    private double[] _weights = [];
    private readonly FedAvg _fedAvg = new();
    private readonly CoordinateMedian _median = new();
    private readonly TrimmedMean _trimmedMean = new(0.1);
    private readonly GeometricMedian _geometricMedian = new();
    private NormBound _normBound = new(1, new FedAvg());
    private StreamingFedAvg _streaming = new(1);

    [Params(50)]
    public int Clients { get; set; }

    [Params(100_000, 1_000_000)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        IRandomSource random = new SeededRandomSource(7);
        _updates = new ReadOnlyMemory<float>[Clients];
        _weights = new double[Clients];
        for (int i = 0; i < Clients; i++)
        {
            var values = new float[Dimension];
            for (int j = 0; j < Dimension; j++)
            {
                // Box–Muller; 1 − u keeps the logarithm finite.
                double r = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
                values[j] = (float)(r * Math.Cos(2 * Math.PI * random.NextDouble()));
            }

            _updates[i] = values;
            _weights[i] = 50 + random.NextInt32(450);
        }

        _streaming = new StreamingFedAvg(Dimension);

        // About half the updates (norm ≈ √d) exceed the bound.
        _normBound = new NormBound(Math.Sqrt(Dimension), new FedAvg());
    }

    [Benchmark(Baseline = true)]
    public float[] FedAvg() => _fedAvg.Aggregate(_updates, _weights).Aggregate;

    /// <summary>FedAvg one update at a time into a float64 running sum, as the networked server does.</summary>
    [Benchmark]
    public float[] StreamingFedAvg()
    {
        for (int i = 0; i < _updates.Length; i++)
        {
            _streaming.Add(_updates[i].Span, _weights[i]);
        }

        return _streaming.Complete();
    }

    [Benchmark]
    public float[] Median() => _median.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] TrimmedMean() => _trimmedMean.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] GeometricMedian() => _geometricMedian.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] NormBoundFedAvg() => _normBound.Aggregate(_updates, _weights).Aggregate;
}
