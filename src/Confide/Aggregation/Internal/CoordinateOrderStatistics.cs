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
/// Cache-friendly by construction. The coordinates are cut into super-blocks of S, and each update's S values are
/// copied into one row of an n × S scratch that fits in L2: long contiguous reads per update keep the hardware
/// prefetchers streaming (with 640-byte reads per update the copy cost twice the sorting). Within the scratch, a
/// pruned sorting network runs over sub-blocks of B columns (n × B floats fit in L1) with SIMD min/max, so one
/// comparator orders B coordinates at once and no column is ever transposed or sorted element by element.
/// Super-blocks run in parallel. The middle rows are then summed in double.
/// </remarks>
internal static class CoordinateOrderStatistics
{
    /// <summary>Bytes of one sub-block (n × B floats) that the network works on: about two thirds of a 48 KiB L1 data cache.</summary>
    private const int ScratchBytes = 32 * 1024;

    /// <summary>Bytes of one super-block (n × S floats) gathered at once: a quarter of a 1 MiB L2 cache.</summary>
    private const int SuperBlockBytes = 256 * 1024;

    public static float[] MeanOfMiddle(string method, IReadOnlyList<ReadOnlyMemory<float>> updates, int dimension, int trim)
    {
        int n = updates.Count;
        int kept = n - (2 * trim);
        if (kept < 1)
        {
            throw new ArgumentException($"{method}: trimming {trim} per side of {n} updates leaves none; needs n > 2·trim = {2 * trim}.", nameof(updates));
        }

        // Every coordinate is written below (or the call throws), so the array need not be zeroed.
        var result = GC.AllocateUninitializedArray<float>(dimension);
        if (dimension == 0)
        {
            return result;
        }

        // Small inputs get small blocks: no point renting (and clearing) scratch the data cannot fill.
        int block = (int)Math.Min(BlockSize(n), RoundUp(dimension, 16));
        int super = (int)Math.Min(block * Math.Max(1, SuperBlockBytes / (sizeof(float) * n * block)), RoundUp(dimension, block));
        int supers = (dimension + super - 1) / super;
        var network = SortingNetwork.For(n, trim, n - trim, onlySum: true, firstLayerDone: true);
        int firstNaN = int.MaxValue;

        VectorKernels.ForChunks(supers, (long)n * dimension, (first, end) =>
        {
            int nan = Chunk(updates, result, network.Pairs, block, super, trim, kept, first, end);
            if (nan >= 0)
            {
                InterlockedMin(ref firstNaN, nan);
            }
        });

        if (firstNaN != int.MaxValue)
        {
            throw new ArgumentException($"{method}: update {firstNaN} contains NaN; expected finite values.", nameof(updates));
        }

        return result;
    }

    /// <summary>Super-blocks [first, end): gather, sort and average. Returns an update holding NaN, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Chunk(
        IReadOnlyList<ReadOnlyMemory<float>> updates, float[] result, int[] pairs, int block, int super, int trim, int kept, int first, int end)
    {
        int n = updates.Count;
        int dimension = result.Length;
        float[] scratch = ArrayPool<float>.Shared.Rent(n * super);
        float[] row = ArrayPool<float>.Shared.Rent(block);
        try
        {
            for (int b = first; b < end; b++)
            {
                int start = b * super;
                int length = Math.Min(super, dimension - start);
                int padded = (int)RoundUp(length, block);
                int nan = Gather(updates, start, length, padded, super, scratch);
                if (nan >= 0)
                {
                    return nan;
                }

                for (int sub = 0; sub < padded; sub += block)
                {
                    RunNetwork(pairs, scratch, super, sub, block);
                    MeanOfRows(scratch, super, sub, block, trim, kept, row);
                    int count = Math.Min(block, length - sub);
                    row.AsSpan(0, count).CopyTo(result.AsSpan(start + sub, count));
                }
            }

            return -1;
        }
        finally
        {
            // Cleared: the scratch held client updates, and the pool is shared with the rest of the process.
            ArrayPool<float>.Shared.Return(scratch, clearArray: true);
            ArrayPool<float>.Shared.Return(row, clearArray: true);
        }
    }

    /// <summary>Coordinates per block: the largest multiple of 16 whose n × B scratch fits the budget, at least 16.</summary>
    internal static int BlockSize(int n) => Math.Clamp(ScratchBytes / (sizeof(float) * n) / 16 * 16, 16, 4096);

    /// <summary>
    /// Loads coordinates [start, start + length) of every update into its scratch row (stride <paramref name="stride"/>),
    /// padded to <paramref name="padded"/> with zeros, applying the network's first layer on the way: rows 2i and 2i + 1
    /// receive the lane-wise minimum and maximum of updates 2i and 2i + 1. Returns an update holding NaN, or -1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Gather(IReadOnlyList<ReadOnlyMemory<float>> updates, int start, int length, int padded, int stride, float[] scratch)
    {
        int n = updates.Count;
        for (int i = 0; i + 1 < n; i += 2)
        {
            var low = scratch.AsSpan(i * stride, padded);
            var high = scratch.AsSpan((i + 1) * stride, padded);
            int nan = LoadPairFindingNaN(updates[i].Span.Slice(start, length), updates[i + 1].Span.Slice(start, length), low, high);
            low[length..].Clear();
            high[length..].Clear();
            if (nan >= 0)
            {
                return i + nan;
            }
        }

        if (n % 2 == 1)
        {
            var last = scratch.AsSpan((n - 1) * stride, padded);
            var source = updates[n - 1].Span.Slice(start, length);
            int nan = LoadPairFindingNaN(source, source, last, last);
            last[length..].Clear();
            if (nan >= 0)
            {
                return n - 1;
            }
        }

        return -1;
    }

    /// <summary>
    /// low = min(a, b) and high = max(a, b) lane-wise over a's length, looking for NaN on the way. Returns 0 if
    /// <paramref name="a"/> holds a NaN, 1 if only <paramref name="b"/> does, else -1. With a and b the same span and
    /// low and high the same span this is a copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int LoadPairFindingNaN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> low, Span<float> high)
    {
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        ref float pl = ref MemoryMarshal.GetReference(low);
        ref float ph = ref MemoryMarshal.GetReference(high);
        int length = a.Length;
        int j = 0;
        bool nanA = false, nanB = false;
        if (Vector512.IsHardwareAccelerated)
        {
            var anyA = Vector512<float>.Zero;
            var anyB = Vector512<float>.Zero;
            for (; j <= length - Vector512<float>.Count; j += Vector512<float>.Count)
            {
                var x = Vector512.LoadUnsafe(ref pa, (nuint)j);
                var y = Vector512.LoadUnsafe(ref pb, (nuint)j);
                Vector512.MinNative(x, y).StoreUnsafe(ref pl, (nuint)j);
                Vector512.MaxNative(x, y).StoreUnsafe(ref ph, (nuint)j);
                anyA |= ~Vector512.Equals(x, x);
                anyB |= ~Vector512.Equals(y, y);
            }

            nanA = anyA != Vector512<float>.Zero;
            nanB = anyB != Vector512<float>.Zero;
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var anyA = Vector256<float>.Zero;
            var anyB = Vector256<float>.Zero;
            for (; j <= length - Vector256<float>.Count; j += Vector256<float>.Count)
            {
                var x = Vector256.LoadUnsafe(ref pa, (nuint)j);
                var y = Vector256.LoadUnsafe(ref pb, (nuint)j);
                Vector256.MinNative(x, y).StoreUnsafe(ref pl, (nuint)j);
                Vector256.MaxNative(x, y).StoreUnsafe(ref ph, (nuint)j);
                anyA |= ~Vector256.Equals(x, x);
                anyB |= ~Vector256.Equals(y, y);
            }

            nanA = anyA != Vector256<float>.Zero;
            nanB = anyB != Vector256<float>.Zero;
        }

        for (; j < length; j++)
        {
            float x = a[j];
            float y = b[j];
            low[j] = MathF.Min(x, y);
            high[j] = MathF.Max(x, y);
            nanA |= float.IsNaN(x);
            nanB |= float.IsNaN(y);
        }

        return nanA ? 0 : nanB ? 1 : -1;
    }

    /// <summary>
    /// Applies each comparator to columns [offset, offset + block) of two rows: row lo gets the lane-wise minimum,
    /// row hi the maximum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunNetwork(int[] pairs, float[] scratch, int stride, int offset, int block)
    {
        ref float s = ref Unsafe.Add(ref MemoryArray(scratch), offset);
        if (Vector512.IsHardwareAccelerated)
        {
            for (int c = 0; c < pairs.Length; c += 2)
            {
                ref float lo = ref Unsafe.Add(ref s, pairs[c] * stride);
                ref float hi = ref Unsafe.Add(ref s, pairs[c + 1] * stride);
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
                ref float lo = ref Unsafe.Add(ref s, pairs[c] * stride);
                ref float hi = ref Unsafe.Add(ref s, pairs[c + 1] * stride);
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
                int lo = (pairs[c] * stride) + offset;
                int hi = (pairs[c + 1] * stride) + offset;
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

    /// <summary>row[j] = mean over scratch rows [trim, trim + kept) of column offset + j, summed in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MeanOfRows(float[] scratch, int stride, int offset, int block, int trim, int kept, float[] row)
    {
        if (kept == 1)
        {
            scratch.AsSpan((trim * stride) + offset, block).CopyTo(row);
            return;
        }

        double scale = 1.0 / kept;
        ref float s = ref Unsafe.Add(ref MemoryArray(scratch), offset);
        ref float r = ref MemoryArray(row);
        int v = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var factor = Vector512.Create(scale);
            for (; v < block; v += Vector512<float>.Count)
            {
                var lo = Vector512<double>.Zero;
                var hi = Vector512<double>.Zero;
                for (int i = trim; i < trim + kept; i++)
                {
                    var (l, h) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)((i * stride) + v)));
                    lo += l;
                    hi += h;
                }

                Vector512.Narrow(lo * factor, hi * factor).StoreUnsafe(ref r, (nuint)v);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var factor = Vector256.Create(scale);
            for (; v < block; v += Vector256<float>.Count)
            {
                var lo = Vector256<double>.Zero;
                var hi = Vector256<double>.Zero;
                for (int i = trim; i < trim + kept; i++)
                {
                    var (l, h) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)((i * stride) + v)));
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
                sum += scratch[(i * stride) + offset + v];
            }

            row[v] = (float)(sum * scale);
        }
    }

    private static long RoundUp(int value, int multiple) => ((long)value + multiple - 1) / multiple * multiple;

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
