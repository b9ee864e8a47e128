using Confide.Aggregation.Internal;
using CsCheck;

namespace Confide.Tests.Aggregation;

public sealed class VectorKernelsTests
{
    [Fact]
    public void NormAndDistanceMatchScalarDoubleReference()
    {
        Gen.Select(Gen.Int[0, 100], Gen.ULong).Sample((d, seed) =>
        {
            var data = StatTestData.Updates(2, d, seed);
            double norm = 0, distance = 0;
            for (int j = 0; j < d; j++)
            {
                norm += (double)data[0][j] * data[0][j];
                double diff = (double)data[0][j] - data[1][j];
                distance += diff * diff;
            }

            Assert.Equal(norm, VectorKernels.SquaredNorm(data[0]), 1e-9 * Math.Max(1, norm));
            Assert.Equal(distance, VectorKernels.SquaredDistance(data[0], data[1]), 1e-9 * Math.Max(1, distance));
        }, iter: 100);
    }

    [Fact]
    public void NormOfLargestFloatsDoesNotOverflow()
    {
        var x = Enumerable.Repeat(float.MaxValue, 1000).ToArray();
        double expected = (double)float.MaxValue * float.MaxValue * 1000;
        Assert.Equal(expected, VectorKernels.SquaredNorm(x), expected * 1e-12);
    }

    [Fact]
    public void IndexOfNonFiniteFindsTheFirstInBodyOrTail()
    {
        foreach (int length in new[] { 1, 7, 8, 9, 33 })
        {
            for (int at = 0; at < length; at++)
            {
                foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                {
                    var x = Enumerable.Range(0, length).Select(i => (float)i).ToArray();
                    x[at] = bad;
                    if (at + 1 < length)
                    {
                        x[length - 1] = float.NaN; // a later one must not be reported instead
                    }

                    Assert.Equal(at, VectorKernels.IndexOfNonFinite(x));
                }
            }

            Assert.Equal(-1, VectorKernels.IndexOfNonFinite(Enumerable.Range(0, length).Select(i => (float)i).ToArray()));
        }
    }

    [Fact]
    public void WeightedSumMatchesReferenceAcrossBlocks()
    {
        const int n = 3, d = 65536 + 17;
        var updates = StatTestData.Updates(n, d, 21);
        float[] c = [0.25f, -1.5f, 2f];
        var destination = new float[d];
        VectorKernels.WeightedSum(StatTestData.Memories(updates), c, destination);
        var expected = new float[d];
        for (int j = 0; j < d; j++)
        {
            expected[j] = (float)((c[0] * (double)updates[0][j]) + (c[1] * (double)updates[1][j]) + (c[2] * (double)updates[2][j]));
        }

        StatTestData.AssertClose(expected, destination, 1e-5);
    }
}
