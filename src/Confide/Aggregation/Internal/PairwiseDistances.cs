using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Confide.Aggregation.Internal;

/// <summary>
/// Pairwise squared Euclidean distances and Gram matrices of n float vectors, computed through the Gram matrix
/// (‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b) rather than by forming n² difference vectors. Shared by Krum, Multi-Krum,
/// Bulyan and the cosine anomaly detector.
/// </summary>
/// <remarks>
/// The coordinates are cut into blocks small enough that all n rows of one block, widened to double, stay in L2.
/// Each block is read from memory once, and a 4×2 register-blocked Vector256 kernel computes every pair's partial dot
/// product from cache (4×4 tiles of Vector512 where AVX-512 is available). Chunks of blocks are spread over cores with
/// <see cref="Parallel.For(int, int, Action{int})"/>, each chunk summing into its own partial Gram matrix, and the partials
/// are added in a fixed order so results do not depend on scheduling. Everything is accumulated in double, so squares of large floats
/// cannot overflow. For distances, each block is first centred on its per-coordinate mean (distances do not change
/// under translation); this removes the shared component that makes ‖a‖² + ‖b‖² − 2a·b cancel catastrophically
/// when updates are close. Where the formula would still lose more than six digits (close updates next to a far outlier,
/// which drags the block mean away), the pair is recomputed directly as Σ(x − y)², so no distance is negative or noise.
/// </remarks>
internal static class PairwiseDistances
{
    /// <summary>Below this many floats in total, the work runs on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 18;

    /// <summary>
    /// A Gram-formula distance below this fraction of ‖a‖² + ‖b‖² (centred) has lost more than six significant digits
    /// to cancellation and is recomputed directly.
    /// </summary>
    private const double CancellationLimit = 1e-6;

    /// <summary>Target size in bytes of one block of n widened rows (half of a 1 MiB L2).</summary>
    private const int BlockBytes = 512 * 1024;

    /// <summary>
    /// Returns the n×n matrix (row-major) of squared Euclidean distances between <paramref name="rows"/>,
    /// symmetric with a zero diagonal.
    /// </summary>
    /// <exception cref="ArgumentException">A row holds NaN or ±∞ (the message names it).</exception>
    /// <param name="rows">The vectors, all of one length.</param>
    /// <param name="allowVector512">False forces the Vector256 kernel (tests use it to cover both kernels on AVX-512 machines).</param>
    public static double[] SquaredEuclidean(IReadOnlyList<ReadOnlyMemory<float>> rows, bool allowVector512 = true)
    {
        int n = rows.Count;
        double[] gram = Accumulate(rows, center: true, allowVector512);
        var distances = new double[n * n];
        var recompute = new List<(int A, int B)>();
        for (int a = 0; a < n; a++)
        {
            for (int b = a + 1; b < n; b++)
            {
                double norms = gram[(a * n) + a] + gram[(b * n) + b];
                double d = norms - (2.0 * gram[(a * n) + b]);
                if (d < norms * CancellationLimit)
                {
                    // More than six of double's sixteen digits cancelled (or a rounding residue went negative).
                    recompute.Add((a, b));
                    continue;
                }

                distances[(a * n) + b] = d;
                distances[(b * n) + a] = d;
            }
        }

        // Pairs that nearly coincide relative to their (centred) norms — close updates next to a far outlier that pulls
        // the block mean away — are recomputed directly as Σ(x − y)², which cannot cancel.
        void Direct(int p)
        {
            var (a, b) = recompute[p];
            double d = DirectSquaredDistance(rows[a].Span, rows[b].Span);
            distances[(a * n) + b] = d;
            distances[(b * n) + a] = d;
        }

        int length = n == 0 ? 0 : rows[0].Length;
        if ((long)recompute.Count * length < ParallelThreshold)
        {
            for (int p = 0; p < recompute.Count; p++)
            {
                Direct(p);
            }
        }
        else
        {
            Parallel.For(0, recompute.Count, Direct);
        }

        return distances;
    }

    /// <summary>Σ(x − y)² accumulated in double.</summary>
    internal static double DirectSquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        var sum = Vector256<double>.Zero;
        int k = 0;
        for (; k <= x.Length - Vector256<float>.Count; k += Vector256<float>.Count)
        {
            var (xl, xu) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)k));
            var (yl, yu) = Vector256.Widen(Vector256.LoadUnsafe(ref yr, (nuint)k));
            var dl = xl - yl;
            var du = xu - yu;
            sum = Vector256.FusedMultiplyAdd(dl, dl, sum);
            sum = Vector256.FusedMultiplyAdd(du, du, sum);
        }

        double total = Vector256.Sum(sum);
        for (; k < x.Length; k++)
        {
            double diff = (double)x[k] - y[k];
            total += diff * diff;
        }

        return total;
    }

    /// <summary>Returns the n×n Gram matrix (row-major) of raw dot products, for cosine similarities.</summary>
    /// <exception cref="ArgumentException">A row holds NaN or ±∞ (the message names it).</exception>
    public static double[] Gram(IReadOnlyList<ReadOnlyMemory<float>> rows, bool allowVector512 = true) =>
        Accumulate(rows, center: false, allowVector512);

    /// <summary>Dot product and the first vector's squared norm, both accumulated in double.</summary>
    public static (double Dot, double SquaredNorm) DotAndSquaredNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"Vectors have lengths {x.Length} and {y.Length}; expected equal lengths.", nameof(y));
        }

        var dot = Vector256<double>.Zero;
        var sq = Vector256<double>.Zero;
        int k = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; k <= x.Length - Vector256<float>.Count; k += Vector256<float>.Count)
        {
            var (xl, xu) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)k));
            var (yl, yu) = Vector256.Widen(Vector256.LoadUnsafe(ref yr, (nuint)k));
            dot = Vector256.FusedMultiplyAdd(xl, yl, dot);
            dot = Vector256.FusedMultiplyAdd(xu, yu, dot);
            sq = Vector256.FusedMultiplyAdd(xl, xl, sq);
            sq = Vector256.FusedMultiplyAdd(xu, xu, sq);
        }

        double dotSum = Vector256.Sum(dot);
        double sqSum = Vector256.Sum(sq);
        for (; k < x.Length; k++)
        {
            dotSum += (double)x[k] * y[k];
            sqSum += (double)x[k] * x[k];
        }

        return (dotSum, sqSum);
    }

    private static double[] Accumulate(IReadOnlyList<ReadOnlyMemory<float>> rows, bool center, bool allowVector512)
    {
        int n = rows.Count;
        if (n == 0)
        {
            return [];
        }

        int d = rows[0].Length;
        for (int i = 1; i < n; i++)
        {
            if (rows[i].Length != d)
            {
                throw new ArgumentException($"Update {i} has length {rows[i].Length}; expected {d} like update 0.", nameof(rows));
            }
        }

        int paddedRows = (n + 3) & ~3;
        // A multiple of 16 so every block but the last is whole Vector256<float> loads.
        int blockLength = Math.Clamp(BlockBytes / (paddedRows * sizeof(double)) & ~15, 64, 4096);
        int blockCount = (int)(((long)d + blockLength - 1) / blockLength);

        // Blocks are grouped into chunks that depend only on n and d, each chunk summing into its own partial Gram matrix,
        // and the partials are added in chunk order: the result is the same bit for bit whatever the thread scheduling or
        // core count (on one machine; the AVX-512 and Vector256 kernels group lanes differently).
        long partialBytes = (long)n * n * sizeof(double);
        int maxChunks = (int)Math.Clamp((1L << 26) / partialBytes, 1, 32);
        int chunkCount = Math.Min(Math.Max(blockCount, 1), maxChunks);
        int blocksPerChunk = (blockCount + chunkCount - 1) / Math.Max(chunkCount, 1);
        chunkCount = blocksPerChunk == 0 ? 0 : (blockCount + blocksPerChunk - 1) / blocksPerChunk;
        var partials = new double[chunkCount][];

        void RunChunk(int chunk, WorkerState state)
        {
            var partial = new double[n * n];
            int end = Math.Min(blockCount, (chunk + 1) * blocksPerChunk);
            for (int block = chunk * blocksPerChunk; block < end; block++)
            {
                ProcessBlock(rows, block, blockLength, center, allowVector512, state, partial);
            }

            partials[chunk] = partial;
        }

        if ((long)n * d < ParallelThreshold || Environment.ProcessorCount == 1 || chunkCount <= 1)
        {
            var state = new WorkerState(paddedRows, blockLength);
            for (int chunk = 0; chunk < chunkCount; chunk++)
            {
                RunChunk(chunk, state);
            }
        }
        else
        {
            Parallel.For(
                0,
                chunkCount,
                () => new WorkerState(paddedRows, blockLength),
                (chunk, _, state) =>
                {
                    RunChunk(chunk, state);
                    return state;
                },
                _ => { });
        }

        double[] total = new double[n * n];
        foreach (double[] partial in partials)
        {
            for (int i = 0; i < total.Length; i++)
            {
                total[i] += partial[i];
            }
        }

        // Any NaN or ±∞ reaches the diagonal (through the row itself or, when centring, through the block mean); finite
        // floats cannot overflow a double sum of squares. Only on that error path are the rows scanned to name the culprit.
        for (int i = 0; i < n; i++)
        {
            if (!double.IsFinite(total[(i * n) + i]))
            {
                for (int r = 0; r < n; r++)
                {
                    if (!TensorPrimitives.IsFiniteAll(rows[r].Span))
                    {
                        throw new ArgumentException(
                            $"Update {r} contains a non-finite value (NaN or ±∞); every value must be finite (validate updates before aggregating).",
                            nameof(rows));
                    }
                }

                throw new ArgumentException($"Update {i} has a non-finite squared norm; expected finite values.", nameof(rows));
            }
        }

        // The kernel fills only the upper triangle; mirror it.
        for (int a = 0; a < n; a++)
        {
            for (int b = a + 1; b < n; b++)
            {
                total[(b * n) + a] = total[(a * n) + b];
            }
        }

        return total;
    }

    private static void ProcessBlock(
        IReadOnlyList<ReadOnlyMemory<float>> rows, int block, int blockLength, bool center, bool allowVector512, WorkerState state, double[] gram)
    {
        int n = rows.Count;
        int d = rows[0].Length;
        int start = block * blockLength;
        int length = Math.Min(blockLength, d - start);
        // Pad to whole Vector512<double> loads; the padding stays zero and adds nothing to any dot product.
        int paddedLength = (length + 7) & ~7;
        double[] scratch = state.Scratch;
        double[] mean = state.Mean;

        if (center)
        {
            // Two passes over the block's floats (the second from cache): sum them into the mean, then write each row
            // minus the mean straight into the double scratch.
            Array.Clear(mean, 0, paddedLength);
            for (int r = 0; r < n; r++)
            {
                AddWidened(rows[r].Span.Slice(start, length), mean);
            }

            var inverse = Vector256.Create(1.0 / n);
            for (int k = 0; k < paddedLength; k += 4)
            {
                (Vector256.LoadUnsafe(ref mean[0], (nuint)k) * inverse).StoreUnsafe(ref mean[0], (nuint)k);
            }
        }

        for (int r = 0; r < n; r++)
        {
            Widen(rows[r].Span.Slice(start, length), scratch.AsSpan(r * blockLength, paddedLength), center ? mean : null);
        }

        if (allowVector512 && Vector512.IsHardwareAccelerated)
        {
            GramKernel512(scratch, n, state.PaddedRows, blockLength, paddedLength, gram);
        }
        else
        {
            GramKernel(scratch, n, state.PaddedRows, blockLength, paddedLength, gram);
        }
    }

    /// <summary>Adds the floats of <paramref name="source"/>, widened, into <paramref name="sum"/>.</summary>
    private static void AddWidened(ReadOnlySpan<float> source, double[] sum)
    {
        ref float src = ref MemoryMarshal.GetReference(source);
        ref double s = ref MemoryMarshal.GetArrayDataReference(sum);
        int k = 0;
        for (; k <= source.Length - Vector256<float>.Count; k += Vector256<float>.Count)
        {
            var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)k));
            (Vector256.LoadUnsafe(ref s, (nuint)k) + lower).StoreUnsafe(ref s, (nuint)k);
            (Vector256.LoadUnsafe(ref s, (nuint)(k + 4)) + upper).StoreUnsafe(ref s, (nuint)(k + 4));
        }

        for (; k < source.Length; k++)
        {
            sum[k] += source[k];
        }
    }

    /// <summary>Writes the floats of <paramref name="source"/>, widened and minus <paramref name="mean"/> if given, into <paramref name="target"/>; zeroes the padding.</summary>
    private static void Widen(ReadOnlySpan<float> source, Span<double> target, double[]? mean)
    {
        target[source.Length..].Clear();
        ref float src = ref MemoryMarshal.GetReference(source);
        ref double dst = ref MemoryMarshal.GetReference(target);
        int k = 0;
        if (mean is null)
        {
            for (; k <= source.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)k));
                lower.StoreUnsafe(ref dst, (nuint)k);
                upper.StoreUnsafe(ref dst, (nuint)(k + 4));
            }

            for (; k < source.Length; k++)
            {
                target[k] = source[k];
            }
        }
        else
        {
            ref double m = ref MemoryMarshal.GetArrayDataReference(mean);
            for (; k <= source.Length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)k));
                (lower - Vector256.LoadUnsafe(ref m, (nuint)k)).StoreUnsafe(ref dst, (nuint)k);
                (upper - Vector256.LoadUnsafe(ref m, (nuint)(k + 4))).StoreUnsafe(ref dst, (nuint)(k + 4));
            }

            for (; k < source.Length; k++)
            {
                target[k] = source[k] - mean[k];
            }
        }
    }

    /// <summary>
    /// Adds the dot products of all pairs (a ≤ b &lt; n) of the block's rows into <paramref name="gram"/>.
    /// Rows are processed as 4×2 tiles: six loads feed eight fused multiply-adds, so each loaded vector is reused.
    /// </summary>
    private static void GramKernel(double[] scratch, int n, int paddedRows, int stride, int length, double[] gram)
    {
        ref double baseRef = ref MemoryMarshal.GetArrayDataReference(scratch);
        for (int a = 0; a < paddedRows; a += 4)
        {
            ref double a0 = ref Unsafe.Add(ref baseRef, a * stride);
            ref double a1 = ref Unsafe.Add(ref a0, stride);
            ref double a2 = ref Unsafe.Add(ref a1, stride);
            ref double a3 = ref Unsafe.Add(ref a2, stride);
            for (int b = a; b < paddedRows; b += 2)
            {
                ref double b0 = ref Unsafe.Add(ref baseRef, b * stride);
                ref double b1 = ref Unsafe.Add(ref b0, stride);
                Vector256<double> s00 = default, s01 = default, s10 = default, s11 = default;
                Vector256<double> s20 = default, s21 = default, s30 = default, s31 = default;
                for (int k = 0; k < length; k += 4)
                {
                    var x0 = Vector256.LoadUnsafe(ref a0, (nuint)k);
                    var x1 = Vector256.LoadUnsafe(ref a1, (nuint)k);
                    var x2 = Vector256.LoadUnsafe(ref a2, (nuint)k);
                    var x3 = Vector256.LoadUnsafe(ref a3, (nuint)k);
                    var y0 = Vector256.LoadUnsafe(ref b0, (nuint)k);
                    var y1 = Vector256.LoadUnsafe(ref b1, (nuint)k);
                    s00 = Vector256.FusedMultiplyAdd(x0, y0, s00);
                    s01 = Vector256.FusedMultiplyAdd(x0, y1, s01);
                    s10 = Vector256.FusedMultiplyAdd(x1, y0, s10);
                    s11 = Vector256.FusedMultiplyAdd(x1, y1, s11);
                    s20 = Vector256.FusedMultiplyAdd(x2, y0, s20);
                    s21 = Vector256.FusedMultiplyAdd(x2, y1, s21);
                    s30 = Vector256.FusedMultiplyAdd(x3, y0, s30);
                    s31 = Vector256.FusedMultiplyAdd(x3, y1, s31);
                }

                Add(gram, n, a, b, s00);
                Add(gram, n, a, b + 1, s01);
                Add(gram, n, a + 1, b, s10);
                Add(gram, n, a + 1, b + 1, s11);
                Add(gram, n, a + 2, b, s20);
                Add(gram, n, a + 2, b + 1, s21);
                Add(gram, n, a + 3, b, s30);
                Add(gram, n, a + 3, b + 1, s31);
            }
        }
    }

    /// <summary>
    /// The AVX-512 variant of <see cref="GramKernel"/>: 4×4 tiles of Vector512 (16 accumulators and 8 loads fit in the
    /// 32 vector registers), so each loaded vector feeds four fused multiply-adds.
    /// </summary>
    private static void GramKernel512(double[] scratch, int n, int paddedRows, int stride, int length, double[] gram)
    {
        ref double baseRef = ref MemoryMarshal.GetArrayDataReference(scratch);
        for (int a = 0; a < paddedRows; a += 4)
        {
            ref double a0 = ref Unsafe.Add(ref baseRef, a * stride);
            ref double a1 = ref Unsafe.Add(ref a0, stride);
            ref double a2 = ref Unsafe.Add(ref a1, stride);
            ref double a3 = ref Unsafe.Add(ref a2, stride);
            for (int b = a; b < paddedRows; b += 4)
            {
                ref double b0 = ref Unsafe.Add(ref baseRef, b * stride);
                ref double b1 = ref Unsafe.Add(ref b0, stride);
                ref double b2 = ref Unsafe.Add(ref b1, stride);
                ref double b3 = ref Unsafe.Add(ref b2, stride);
                Vector512<double> s00 = default, s01 = default, s02 = default, s03 = default;
                Vector512<double> s10 = default, s11 = default, s12 = default, s13 = default;
                Vector512<double> s20 = default, s21 = default, s22 = default, s23 = default;
                Vector512<double> s30 = default, s31 = default, s32 = default, s33 = default;
                for (int k = 0; k < length; k += 8)
                {
                    var y0 = Vector512.LoadUnsafe(ref b0, (nuint)k);
                    var y1 = Vector512.LoadUnsafe(ref b1, (nuint)k);
                    var y2 = Vector512.LoadUnsafe(ref b2, (nuint)k);
                    var y3 = Vector512.LoadUnsafe(ref b3, (nuint)k);
                    var x = Vector512.LoadUnsafe(ref a0, (nuint)k);
                    s00 = Vector512.FusedMultiplyAdd(x, y0, s00);
                    s01 = Vector512.FusedMultiplyAdd(x, y1, s01);
                    s02 = Vector512.FusedMultiplyAdd(x, y2, s02);
                    s03 = Vector512.FusedMultiplyAdd(x, y3, s03);
                    x = Vector512.LoadUnsafe(ref a1, (nuint)k);
                    s10 = Vector512.FusedMultiplyAdd(x, y0, s10);
                    s11 = Vector512.FusedMultiplyAdd(x, y1, s11);
                    s12 = Vector512.FusedMultiplyAdd(x, y2, s12);
                    s13 = Vector512.FusedMultiplyAdd(x, y3, s13);
                    x = Vector512.LoadUnsafe(ref a2, (nuint)k);
                    s20 = Vector512.FusedMultiplyAdd(x, y0, s20);
                    s21 = Vector512.FusedMultiplyAdd(x, y1, s21);
                    s22 = Vector512.FusedMultiplyAdd(x, y2, s22);
                    s23 = Vector512.FusedMultiplyAdd(x, y3, s23);
                    x = Vector512.LoadUnsafe(ref a3, (nuint)k);
                    s30 = Vector512.FusedMultiplyAdd(x, y0, s30);
                    s31 = Vector512.FusedMultiplyAdd(x, y1, s31);
                    s32 = Vector512.FusedMultiplyAdd(x, y2, s32);
                    s33 = Vector512.FusedMultiplyAdd(x, y3, s33);
                }

                Add(gram, n, a, b, s00, s01, s02, s03);
                Add(gram, n, a + 1, b, s10, s11, s12, s13);
                Add(gram, n, a + 2, b, s20, s21, s22, s23);
                Add(gram, n, a + 3, b, s30, s31, s32, s33);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(double[] gram, int n, int a, int b, Vector512<double> p0, Vector512<double> p1, Vector512<double> p2, Vector512<double> p3)
    {
        AddSum(gram, n, a, b, Vector512.Sum(p0));
        AddSum(gram, n, a, b + 1, Vector512.Sum(p1));
        AddSum(gram, n, a, b + 2, Vector512.Sum(p2));
        AddSum(gram, n, a, b + 3, Vector512.Sum(p3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSum(double[] gram, int n, int a, int b, double partial)
    {
        if (a <= b && b < n)
        {
            gram[(a * n) + b] += partial;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(double[] gram, int n, int a, int b, Vector256<double> partial)
    {
        // Padding rows and the lower triangle of diagonal tiles are computed but not kept.
        if (a <= b && b < n)
        {
            gram[(a * n) + b] += Vector256.Sum(partial);
        }
    }

    private sealed class WorkerState(int paddedRows, int blockLength)
    {
        public int PaddedRows { get; } = paddedRows;

        /// <summary>paddedRows × blockLength doubles; rows n..paddedRows−1 stay zero.</summary>
        public double[] Scratch { get; } = new double[paddedRows * blockLength];

        public double[] Mean { get; } = new double[blockLength];
    }
}
