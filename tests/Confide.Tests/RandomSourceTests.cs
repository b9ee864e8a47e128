using Confide.Randomness;

namespace Confide.Tests;

public sealed class RandomSourceTests
{
    [Fact]
    public void SeededSourceIsReproducibleAndForksDiffer()
    {
        var a = new SeededRandomSource(42);
        var b = new SeededRandomSource(42);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(a.NextUInt64(), b.NextUInt64());
        }

        var f1 = new SeededRandomSource(42).Fork(1);
        var f2 = new SeededRandomSource(42).Fork(2);
        Assert.NotEqual(f1.NextUInt64(), f2.NextUInt64());
    }

    [Fact]
    public void NextInt32IsUniformWithinChiSquareBound()
    {
        IRandomSource rng = new SeededRandomSource(7);
        const int k = 10, n = 100_000;
        var counts = new int[k];
        for (int i = 0; i < n; i++)
        {
            counts[rng.NextInt32(k)]++;
        }

        double expected = n / (double)k;
        double chi2 = counts.Sum(c => (c - expected) * (c - expected) / expected);
        // 9 degrees of freedom: the 0.999 quantile is 27.88.
        Assert.True(chi2 < 27.88, $"chi-square {chi2}");
    }

    [Fact]
    public void NextDoubleStaysInUnitInterval()
    {
        IRandomSource rng = CryptoRandomSource.Instance;
        for (int i = 0; i < 10_000; i++)
        {
            double x = rng.NextDouble();
            Assert.InRange(x, 0.0, Math.BitDecrement(1.0));
        }
    }
}
