using BenchmarkDotNet.Attributes;
using Confide.Aggregation;
using Confide.Randomness;

namespace Confide.Benchmarks;

/// <summary>
/// Krum, Multi-Krum, Bulyan and FLTrust on 50 clients × 1,000,000 float32 parameters of seeded standard normal data,
/// the benchmark size. Run with:
/// <c>dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*RobustAggregation*' --job short</c>
/// </summary>
[MemoryDiagnoser]
public class RobustAggregationBenchmarks
{
    private ReadOnlyMemory<float>[] _updates = [];
    private double[] _weights = [];
    private Krum _krum = null!;
    private MultiKrum _multiKrum = null!;
    private Bulyan _bulyan = null!;
    private FlTrust _flTrust = null!;
    private AnomalyFilter _cosineFilter = null!;

    [Params(50)]
    public int Clients { get; set; }

    [Params(1_000_000)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new SeededRandomSource(20261125);
        _updates = new ReadOnlyMemory<float>[Clients];
        for (int i = 0; i < Clients; i++)
        {
            _updates[i] = Normal(random, Dimension);
        }

        _weights = Enumerable.Repeat(1.0, Clients).ToArray();
        _krum = new Krum(f: 5);
        _multiKrum = new MultiKrum(f: 5, m: 10);
        _bulyan = new Bulyan(f: 5);
        _flTrust = new FlTrust(Normal(random, Dimension));
        _cosineFilter = new AnomalyFilter(new CosineAnomalyDetector(), new MultiKrum(f: 5, m: 10));
    }

    [Benchmark]
    public float[] Krum() => _krum.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] MultiKrum() => _multiKrum.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] Bulyan() => _bulyan.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] FlTrust() => _flTrust.Aggregate(_updates, _weights).Aggregate;

    [Benchmark]
    public float[] CosineFilterThenMultiKrum() => _cosineFilter.Aggregate(_updates, _weights).Aggregate;

    /// <summary>Standard normal floats by the Box–Muller transform.</summary>
    internal static float[] Normal(IRandomSource random, int length)
    {
        var values = new float[length];
        for (int k = 0; k < length; k += 2)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            values[k] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (k + 1 < length)
            {
                values[k + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }
        }

        return values;
    }
}
