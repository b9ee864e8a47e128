using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Confide.Aggregation.Internal;

/// <summary>
/// Per coordinate, the mean of the order statistics at sorted positions [trim, n − trim): the trimmed mean, and
/// with trim = ⌊(n − 1)/2⌋ the median.
/// </summary>
/// <remarks>
/// Cache-friendly by construction: the coordinates are cut into blocks of B (a multiple of 16), each block of every
/// update is copied into an n × B scratch that fits in L1, and a pruned sorting network runs over the scratch rows
/// with SIMD min/max, so one comparator orders B coordinates at once and no column is ever transposed or sorted
/// element by element. Blocks run in parallel. The middle rows are then summed in double.
/// </remarks>
internal static class CoordinateOrderStatistics
{
    /// <summary>Scratch bytes per block: about two thirds of a 48 KiB L1 data cache.</summary>
    private const int ScratchBytes = 32 * 1024;

    public static float[] MeanOfMiddle(string method, IReadOnlyList<ReadOnlyMemory<float>> updates, int dimension, int trim)
    {
        int n = updates.Count;
        int kept = n - (2 * trim);
        if (kept < 1)
        {
            throw new ArgumentException($"{method}: trimming {trim} per side of {n} updates leaves none; needs n > 2·trim = {2 * trim}.", nameof(updates));
        }

        var result = new float[dimension];
        if (dimension == 0)
        {
            return result;
        }

        int block = BlockSize(n);
        int blocks = (dimension + block - 1) / block;
        var network = SortingNetwork.For(n, trim, n - trim, onlySum: true);
        int firstNaN = int.MaxValue;

        VectorKernels.ForChunks(blocks, (long)n * dimension, (first, end) =>
        {
            float[] scratch = ArrayPool<float>.Shared.Rent(n * block);
            float[] row = ArrayPool<float>.Shared.Rent(block);
            try
            {
                for (int b = first; b < end; b++)
                {
                    int start = b * block;
                    int length = Math.Min(block, dimension - start);
                    int nan = Gather(updates, start, length, block, scratch);
                    if (nan >= 0)
                    {
                        InterlockedMin(ref firstNaN, nan);
                        return;
                    }

                    RunNetwork(network.Pairs, scratch, block);
                    MeanOfRows(scratch, block, trim, kept, row);
                    row.AsSpan(0, length).CopyTo(result.AsSpan(start, length));
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
                ArrayPool<float>.Shared.Return(row);
            }
        });

        if (firstNaN != int.MaxValue)
        {
            throw new ArgumentException($"{method}: update {firstNaN} contains NaN; expected finite values.", nameof(updates));
        }

        return result;
    }

    /// <summary>Coordinates per block: the largest multiple of 16 whose n × B scratch fits the budget, at least 16.</summary>
    internal static int BlockSize(int n) => Math.Clamp(ScratchBytes / (sizeof(float) * n) / 16 * 16, 16, 4096);

    /// <summary>Copies one block of every update into its scratch row, padding short rows with zeros. Returns an update holding NaN, or -1.</summary>
    private static int Gather(IReadOnlyList<ReadOnlyMemory<float>> updates, int start, int length, int block, float[] scratch)
    {
        for (int i = 0; i < updates.Count; i++)
        {
            var rowSpan = scratch.AsSpan(i * block, block);
            updates[i].Span.Slice(start, length).CopyTo(rowSpan);
            if (length < block)
            {
                rowSpan[length..].Clear();
            }

            if (ContainsNaN(rowSpan))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool ContainsNaN(ReadOnlySpan<float> row)
    {
        // Rows are multiples of 16 long.
        ref float p = ref MemoryMarshal.GetReference(row);
        if (Vector512.IsHardwareAccelerated)
        {
            var any = Vector512<float>.Zero;
            for (int v = 0; v < row.Length; v += Vector512<float>.Count)
            {
                var x = Vector512.LoadUnsafe(ref p, (nuint)v);
                any |= ~Vector512.Equals(x, x);
            }

            return any != Vector512<float>.Zero;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            var any = Vector256<float>.Zero;
            for (int v = 0; v < row.Length; v += Vector256<float>.Count)
            {
                var x = Vector256.LoadUnsafe(ref p, (nuint)v);
                any |= ~Vector256.Equals(x, x);
            }

            return any != Vector256<float>.Zero;
        }

        foreach (float x in row)
        {
            if (float.IsNaN(x))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Applies each comparator to whole rows: row lo gets the lane-wise minimum, row hi the maximum.</summary>
    private static void RunNetwork(int[] pairs, float[] scratch, int block)
    {
        ref float s = ref MemoryArray(scratch);
        if (Vector512.IsHardwareAccelerated)
        {
            for (int c = 0; c < pairs.Length; c += 2)
            {
                ref float lo = ref Unsafe.Add(ref s, pairs[c] * block);
                ref float hi = ref Unsafe.Add(ref s, pairs[c + 1] * block);
                for (int v = 0; v < block; v += Vector512<float>.Count)
                {
                    var a = Vector512.LoadUnsafe(ref lo, (nuint)v);
                    var b = Vector512.LoadUnsafe(ref hi, (nuint)v);
                    Vector512.MinNative(a, b).StoreUnsafe(ref lo, (nuint)v);
                    Vector512.MaxNative(a, b).StoreUnsafe(ref hi, (nuint)v);
                }
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (int c = 0; c < pairs.Length; c += 2)
            {
                ref float lo = ref Unsafe.Add(ref s, pairs[c] * block);
                ref float hi = ref Unsafe.Add(ref s, pairs[c + 1] * block);
                for (int v = 0; v < block; v += Vector256<float>.Count)
                {
                    var a = Vector256.LoadUnsafe(ref lo, (nuint)v);
                    var b = Vector256.LoadUnsafe(ref hi, (nuint)v);
                    Vector256.MinNative(a, b).StoreUnsafe(ref lo, (nuint)v);
                    Vector256.MaxNative(a, b).StoreUnsafe(ref hi, (nuint)v);
                }
            }
        }
        else
        {
            for (int c = 0; c < pairs.Length; c += 2)
            {
                int lo = pairs[c] * block;
                int hi = pairs[c + 1] * block;
                for (int v = 0; v < block; v++)
                {
                    float a = scratch[lo + v];
                    float b = scratch[hi + v];
                    scratch[lo + v] = MathF.Min(a, b);
                    scratch[hi + v] = MathF.Max(a, b);
                }
            }
        }
    }

    /// <summary>row[j] = mean of scratch rows [trim, trim + kept) at lane j, summed in double.</summary>
    private static void MeanOfRows(float[] scratch, int block, int trim, int kept, float[] row)
    {
        if (kept == 1)
        {
            scratch.AsSpan(trim * block, block).CopyTo(row);
            return;
        }

        double scale = 1.0 / kept;
        ref float s = ref MemoryArray(scratch);
        ref float r = ref MemoryArray(row);
        int v = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var factor = Vector256.Create(scale);
            for (; v < block; v += Vector256<float>.Count)
            {
                var lo = Vector256<double>.Zero;
                var hi = Vector256<double>.Zero;
                for (int i = trim; i < trim + kept; i++)
                {
                    var (l, h) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)((i * block) + v)));
                    lo += l;
                    hi += h;
                }

                Vector256.Narrow(lo * factor, hi * factor).StoreUnsafe(ref r, (nuint)v);
            }
        }

        for (; v < block; v++)
        {
            double sum = 0;
            for (int i = trim; i < trim + kept; i++)
            {
                sum += scratch[(i * block) + v];
            }

            row[v] = (float)(sum * scale);
        }
    }

    private static ref float MemoryArray(float[] array) => ref MemoryMarshal.GetArrayDataReference(array);

    private static void InterlockedMin(ref int target, int value)
    {
        int current = Volatile.Read(ref target);
        while (value < current)
        {
            int seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
