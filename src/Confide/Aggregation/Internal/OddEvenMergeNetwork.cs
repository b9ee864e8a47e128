using System.Collections.Concurrent;

namespace Confide.Aggregation.Internal;

/// <summary>
/// Batcher's odd–even merge sorting network (Knuth, TAOCP vol. 3, 5.3.4), as a flat list of comparator pairs
/// (low index, high index): applying min to the low and max to the high position for each pair in order sorts any input.
/// </summary>
/// <remarks>
/// The network is built for the next power of two P ≥ n, conceptually padding with +∞. A padded +∞ is the maximum of every
/// comparison it enters, so it only ever moves up and stays at positions ≥ n; every comparator touching such a position
/// is therefore a no-op and is dropped, leaving a network for exactly n inputs.
/// </remarks>
internal static class OddEvenMergeNetwork
{
    private static readonly ConcurrentDictionary<int, int[]> Cache = new();

    public static int[] For(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return Cache.GetOrAdd(n, Build);
    }

    private static int[] Build(int n)
    {
        int size = 1;
        while (size < n)
        {
            size <<= 1;
        }

        var pairs = new List<int>();
        for (int p = 1; p < size; p <<= 1)
        {
            for (int k = p; k >= 1; k >>= 1)
            {
                for (int j = k % p; j + k < size; j += 2 * k)
                {
                    for (int i = 0; i < Math.Min(k, size - j - k); i++)
                    {
                        int low = i + j;
                        int high = i + j + k;
                        if (low / (2 * p) == high / (2 * p) && high < n)
                        {
                            pairs.Add(low);
                            pairs.Add(high);
                        }
                    }
                }
            }
        }

        return [.. pairs];
    }
}
