using System.Collections.Concurrent;

namespace Confide.Aggregation.Internal;

/// <summary>
/// Batcher's odd–even merge sorting network for n inputs (Batcher 1968, "Sorting networks and their applications"),
/// pruned to the comparators that can influence the outputs a caller needs.
/// </summary>
/// <remarks>
/// The network for the next power of two N ≥ n is generated and every comparator touching a position ≥ n is dropped:
/// padding positions n..N−1 with +∞ keeps them +∞ throughout (each comparator puts the minimum at its lower index),
/// so those comparators never move a real value.
/// Pruning then walks the network backwards with one label per position: unused, exact (its value is needed), or
/// sum (only its membership in the summed range matters). A comparator between two unused positions, or between two
/// summed positions (min + max = a + b), cannot change the result and is dropped.
/// </remarks>
internal sealed class SortingNetwork
{
    private static readonly ConcurrentDictionary<(int N, int From, int To, bool Sum, bool FirstLayerDone), SortingNetwork> Cache = new();

    private SortingNetwork(int[] pairs) => Pairs = pairs;

    /// <summary>Comparators in execution order, flattened: low index, high index, low index, high index, …</summary>
    public int[] Pairs { get; }

    /// <summary>The number of comparators.</summary>
    public int Count => Pairs.Length / 2;

    /// <summary>The comparator pairs of a full sorting network for <paramref name="n"/> inputs.</summary>
    public static int[] Full(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return For(n, 0, n, onlySum: false).Pairs;
    }

    /// <summary>A network for <paramref name="n"/> inputs that leaves positions [from, to) of the sorted order in place.</summary>
    /// <param name="n">The number of inputs.</param>
    /// <param name="from">The first needed position of the sorted order.</param>
    /// <param name="to">One past the last needed position.</param>
    /// <param name="onlySum">False: each needed position holds its order statistic. True: the needed positions hold the right values as a set, in any order.</param>
    /// <param name="firstLayerDone">
    /// Leave out Batcher's first layer, the comparators (0, 1), (2, 3), …, because the caller applies all of them while
    /// loading the inputs. Applying a first-layer comparator that pruning removed is harmless: the layer's comparators are
    /// disjoint, and a removed one joins two positions whose order cannot change the result.
    /// </param>
    public static SortingNetwork For(int n, int from, int to, bool onlySum, bool firstLayerDone = false) =>
        Cache.GetOrAdd((n, from, to, onlySum, firstLayerDone), key => Build(key.N, key.From, key.To, key.Sum, key.FirstLayerDone));

    private static SortingNetwork Build(int n, int from, int to, bool onlySum, bool firstLayerDone)
    {
        var all = new List<(int Lo, int Hi)>();
        int size = 1;
        while (size < n)
        {
            size <<= 1;
        }

        // Batcher's odd–even merge sort, iterative form, for the power of two `size`.
        for (int p = 1; p < size; p <<= 1)
        {
            for (int k = p; k >= 1; k >>= 1)
            {
                for (int j = k % p; j + k < size; j += 2 * k)
                {
                    for (int i = 0; i < Math.Min(k, size - j - k); i++)
                    {
                        int lo = i + j;
                        int hi = i + j + k;
                        if (lo / (2 * p) == hi / (2 * p) && hi < n && !(firstLayerDone && p == 1))
                        {
                            all.Add((lo, hi));
                        }
                    }
                }
            }
        }

        const byte Unused = 0, Exact = 1, Summed = 2;
        var label = new byte[n];
        for (int i = from; i < to; i++)
        {
            label[i] = onlySum ? Summed : Exact;
        }

        var kept = new List<(int Lo, int Hi)>();
        for (int c = all.Count - 1; c >= 0; c--)
        {
            var (lo, hi) = all[c];
            if ((label[lo] == Unused && label[hi] == Unused) || (label[lo] == Summed && label[hi] == Summed))
            {
                continue;
            }

            kept.Add((lo, hi));
            label[lo] = Exact;
            label[hi] = Exact;
        }

        kept.Reverse();
        var pairs = new int[kept.Count * 2];
        for (int c = 0; c < kept.Count; c++)
        {
            pairs[2 * c] = kept[c].Lo;
            pairs[(2 * c) + 1] = kept[c].Hi;
        }

        return new SortingNetwork(pairs);
    }
}
