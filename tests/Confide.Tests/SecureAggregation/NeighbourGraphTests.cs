using System.Buffers.Binary;
using System.Text;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;
using CsCheck;

namespace Confide.Tests.SecureAggregation;

public sealed class NeighbourGraphTests
{
    [Fact]
    public void HararyGraphsAreRegularSymmetricAndLoopFree()
    {
        Gen.Select(Gen.Int[2, 120], Gen.Int[1, 200], Gen.Byte.Array[32]).Sample((n, kPick, seed) =>
        {
            int k = 1 + (kPick % (n - 1));
            if (k % 2 == 1 && n % 2 == 1)
            {
                k = k == n - 1 ? k - 1 : k + 1;
            }

            if (k < 1)
            {
                return;
            }

            var graph = NeighbourGraph.Harary(n, k, seed);
            Assert.Equal(n, graph.Count);
            Assert.Equal(k, graph.Degree);
            for (int v = 0; v < n; v++)
            {
                var nb = graph.Neighbours(v).ToArray();
                Assert.Equal(k, nb.Length);
                Assert.Equal(k, nb.Distinct().Count());
                Assert.DoesNotContain(v, nb);
                Assert.Equal(nb.Order(), nb);
                Assert.All(nb, w => Assert.True(graph.AreNeighbours(w, v), $"{v} -> {w} but not back"));
            }

            // Harary graphs are k-connected for k >= 2; k = 1 is a perfect matching, disconnected once n > 2.
            Assert.Equal(k >= 2 || n == 2, graph.IsConnected());
        }, iter: 200);
    }

    [Fact]
    public void EveryPartyComputesTheSameGraphFromTheSameSeed()
    {
        var seed = new byte[32];
        new SeededRandomSource(1).NextBytes(seed);
        var a = NeighbourGraph.Harary(200, 16, seed);
        var b = NeighbourGraph.Harary(200, 16, (byte[])seed.Clone());
        for (int v = 0; v < 200; v++)
        {
            Assert.Equal(a.Neighbours(v).ToArray(), b.Neighbours(v).ToArray());
        }

        seed[0] ^= 1;
        var c = NeighbourGraph.Harary(200, 16, seed);
        Assert.Contains(Enumerable.Range(0, 200), v => !a.Neighbours(v).SequenceEqual(c.Neighbours(v)));
    }

    [Fact]
    public void TheGraphFollowsTheDocumentedConstruction()
    {
        // Re-derive the ordering from the documented stream and shuffle, independently of the implementation.
        var seed = Enumerable.Range(0, 32).Select(i => (byte)(3 * i)).ToArray();
        const int n = 37;
        const int k = 6;
        using var prg = MaskPrg.FromSeed(seed, Encoding.ASCII.GetBytes("Confide/SecAgg/NeighbourGraph/v1"), AesCtrBackend.Portable);
        var stream = new byte[8 * 4096];
        prg.Generate(stream);
        int word = 0;
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            ulong m = (ulong)i + 1;
            ulong limit = ulong.MaxValue - (ulong.MaxValue % m) - 1;
            ulong x;
            do
            {
                x = BinaryPrimitives.ReadUInt64LittleEndian(stream.AsSpan(8 * word++));
            }
            while (x > limit);
            int j = (int)(x % m);
            (order[i], order[j]) = (order[j], order[i]);
        }

        var graph = NeighbourGraph.Harary(n, k, seed);
        for (int p = 0; p < n; p++)
        {
            var expected = new[] { -3, -2, -1, 1, 2, 3 }.Select(d => order[(p + d + n) % n]).Order().ToArray();
            Assert.Equal(expected, graph.Neighbours(order[p]).ToArray());
        }
    }

    [Fact]
    public void TwiceLogNNeighboursConnectFiveHundredClientsEvenAfterDropouts()
    {
        int k = NeighbourGraph.RecommendedDegree(500);
        Assert.Equal(18, k);
        var rng = new SeededRandomSource(500);
        for (int trial = 0; trial < 10; trial++)
        {
            var seed = new byte[32];
            rng.NextBytes(seed);
            var graph = NeighbourGraph.Harary(500, k, seed);
            Assert.True(graph.IsConnected());

            // k-connected: removing any k - 1 clients leaves the rest connected; here, a random k - 1.
            var dropped = Enumerable.Range(0, 500).OrderBy(_ => rng.NextUInt64()).Take(k - 1).ToHashSet();
            var survivors = Enumerable.Range(0, 500).Where(v => !dropped.Contains(v)).ToHashSet();
            Assert.True(graph.IsConnected(survivors));
        }
    }

    [Fact]
    public void TheRandomOrderingIsUniform()
    {
        // n = 5, k = 2: the graph is a Hamiltonian cycle, one of (5 - 1)! / 2 = 12, each equally likely.
        var counts = new Dictionary<string, int>();
        var rng = new SeededRandomSource(12);
        const int trials = 12_000;
        var seed = new byte[32];
        for (int t = 0; t < trials; t++)
        {
            rng.NextBytes(seed);
            var g = NeighbourGraph.Harary(5, 2, seed);
            string key = string.Join('|', Enumerable.Range(0, 5).Select(v => string.Join(',', g.Neighbours(v).ToArray())));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        Assert.Equal(12, counts.Count);
        double expected = trials / 12.0;
        double chi2 = counts.Values.Sum(c => (c - expected) * (c - expected) / expected);
        // 11 degrees of freedom: the 0.999 quantile is 31.26.
        Assert.True(chi2 < 31.26, $"chi-square {chi2:F1}");
    }

    [Fact]
    public void TheCompleteGraphAndBadParameters()
    {
        var full = NeighbourGraph.Complete(6);
        Assert.Equal(5, full.Degree);
        Assert.Equal([0, 1, 2, 4, 5], full.Neighbours(3).ToArray());
        Assert.True(full.IsConnected(new HashSet<int> { 1, 4 }));

        var seed = new byte[32];
        var ex = Assert.Throws<ArgumentException>(() => NeighbourGraph.Harary(7, 3, seed));
        Assert.Contains("odd degree", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => NeighbourGraph.Harary(7, 7, seed));
        Assert.Throws<ArgumentOutOfRangeException>(() => NeighbourGraph.Harary(7, 0, seed));
        Assert.Throws<ArgumentException>(() => NeighbourGraph.Harary(8, 3, new byte[16]));
        Assert.Throws<ArgumentOutOfRangeException>(() => full.Neighbours(6));

        // A disconnected subset: in a ring (k = 2), two clients that are not adjacent.
        var ring = NeighbourGraph.Harary(10, 2, seed);
        int v0 = 0;
        int far = Enumerable.Range(1, 9).First(v => !ring.AreNeighbours(v0, v));
        Assert.False(ring.IsConnected(new HashSet<int> { v0, far }));
    }
}
