using Confide.Aggregation.Internal;
using Confide.Randomness;

namespace Confide.Tests.Aggregation;

public sealed class SortingNetworkTests
{
    [Fact]
    public void UnprunedNetworkSortsEveryZeroOneInput()
    {
        // The 0–1 principle (Knuth, TAOCP vol. 3, 5.3.4): a comparator network sorts every input iff it sorts every 0–1 input.
        for (int n = 1; n <= 14; n++)
        {
            var network = SortingNetwork.For(n, 0, n, onlySum: false);
            for (int mask = 0; mask < 1 << n; mask++)
            {
                var x = new int[n];
                for (int i = 0; i < n; i++)
                {
                    x[i] = (mask >> i) & 1;
                }

                Apply(network, x);
                for (int i = 1; i < n; i++)
                {
                    Assert.True(x[i - 1] <= x[i], $"n = {n}, input {mask} not sorted");
                }
            }
        }
    }

    [Fact]
    public void PrunedNetworksKeepTheNeededPositions()
    {
        IRandomSource random = new SeededRandomSource(17);
        for (int n = 1; n <= 70; n++)
        {
            for (int trim = 0; 2 * trim < n; trim++)
            {
                var exact = SortingNetwork.For(n, trim, n - trim, onlySum: false);
                var summed = SortingNetwork.For(n, trim, n - trim, onlySum: true);
                Assert.True(summed.Count <= exact.Count);
                for (int trial = 0; trial < 20; trial++)
                {
                    var x = Enumerable.Range(0, n).Select(_ => random.NextInt32(7)).ToArray();
                    var sorted = x.Order().ToArray();
                    var y = (int[])x.Clone();
                    Apply(exact, y);
                    Assert.Equal(sorted[trim..(n - trim)], y[trim..(n - trim)]);
                    var z = (int[])x.Clone();
                    Apply(summed, z);
                    Assert.Equal(sorted[trim..(n - trim)], z[trim..(n - trim)].Order());
                }
            }
        }
    }

    [Fact]
    public void FirstLayerAppliedByTheCallerThenTheRestKeepsTheNeededPositions()
    {
        IRandomSource random = new SeededRandomSource(23);
        for (int n = 1; n <= 70; n++)
        {
            for (int trim = 0; 2 * trim < n; trim++)
            {
                var rest = SortingNetwork.For(n, trim, n - trim, onlySum: true, firstLayerDone: true);
                for (int trial = 0; trial < 20; trial++)
                {
                    var x = Enumerable.Range(0, n).Select(_ => random.NextInt32(7)).ToArray();
                    var sorted = x.Order().ToArray();
                    for (int i = 0; i + 1 < n; i += 2)
                    {
                        (x[i], x[i + 1]) = (Math.Min(x[i], x[i + 1]), Math.Max(x[i], x[i + 1]));
                    }

                    Apply(rest, x);
                    Assert.Equal(sorted[trim..(n - trim)], x[trim..(n - trim)].Order());
                }
            }
        }
    }

    [Fact]
    public void PruningRemovesComparators()
    {
        // For the median of 50 the full Batcher network has 403 comparators after removing the padding.
        Assert.Equal(403, SortingNetwork.For(50, 0, 50, onlySum: false).Count);
        Assert.True(SortingNetwork.For(50, 24, 26, onlySum: true).Count < 403);
        Assert.Equal(0, SortingNetwork.For(50, 0, 50, onlySum: true).Count); // the plain mean needs no ordering
    }

    private static void Apply(SortingNetwork network, int[] x)
    {
        var pairs = network.Pairs;
        for (int c = 0; c < pairs.Length; c += 2)
        {
            int lo = pairs[c], hi = pairs[c + 1];
            if (x[lo] > x[hi])
            {
                (x[lo], x[hi]) = (x[hi], x[lo]);
            }
        }
    }
}
