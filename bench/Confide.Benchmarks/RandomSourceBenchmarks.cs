using BenchmarkDotNet.Attributes;
using Confide.Randomness;

namespace Confide.Benchmarks;

[MemoryDiagnoser]
public class RandomSourceBenchmarks
{
    private readonly byte[] _buffer = new byte[1 << 20];

    [Benchmark]
    public void CryptoFill1MiB() => CryptoRandomSource.Instance.NextBytes(_buffer);

    [Benchmark]
    public void SeededFill1MiB() => new SeededRandomSource(1).NextBytes(_buffer);
}
