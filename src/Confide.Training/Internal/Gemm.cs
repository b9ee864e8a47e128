using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Confide.Training.Internal;

/// <summary>
/// A cache-blocked single-precision matrix multiply, C = op(A)·B (+ C), all row-major. B is packed per
/// (K-block × N-block) into zero-padded panels of 16 columns that stay in L1 while a 4 × 16 register tile of C
/// runs over every row of A (the Goto/BLIS loop order, without packing A). The kernels use Vector256 FMA.
/// Serial by design: callers parallelise over the batch.
/// </summary>
internal static unsafe class Gemm
{
    private const int Kc = 256;
    private const int Nc = 512;
    private const int Nr = 16;
    private const int Mr = 4;
    private const int NarrowNr = 8;
    private const int NarrowMr = 8;

    [ThreadStatic]
    private static float[]? t_pack;

    /// <summary>
    /// C[m×n] = op(A)·B, plus the old C when <paramref name="accumulate"/>. A is m×k (or k×m when
    /// <paramref name="transposeA"/>), B is k×n.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, bool transposeA, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n, bool accumulate) =>
        Multiply(a, transposeA, b, false, c, m, k, n, accumulate);

    /// <summary>
    /// C[m×n] = op(A)·op(B), plus the old C when <paramref name="accumulate"/>. A is m×k (or k×m when
    /// <paramref name="transposeA"/>), B is k×n (or n×k when <paramref name="transposeB"/>; the transposition happens
    /// while packing, at no extra pass).
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, bool transposeA, ReadOnlySpan<float> b, bool transposeB, Span<float> c, int m, int k, int n, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (a.Length < (long)m * k || b.Length < (long)k * n || c.Length < (long)m * n)
        {
            throw new ArgumentException($"Gemm {m}×{k}·{k}×{n}: buffers too short (A {a.Length}, B {b.Length}, C {c.Length}).");
        }

        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            if (!accumulate)
            {
                c[..(m * n)].Clear();
            }

            return;
        }

        var pack = t_pack ??= new float[Kc * Nc];
        long rs = transposeA ? 1 : k;
        long cs = transposeA ? m : 1;
        fixed (float* pa = a, pb = b, pc = c, pp = pack)
        {
            if (n <= NarrowNr)
            {
                // A 16-wide tile would waste most of its lanes (conv1 has 6 output channels): use 8 × 8 tiles instead.
                MultiplyNarrow(pa, rs, cs, pb, transposeB, pc, m, k, n, accumulate, pp);
                return;
            }

            for (int j0 = 0; j0 < n; j0 += Nc)
            {
                int nb = Math.Min(Nc, n - j0);
                int panels = (nb + Nr - 1) / Nr;
                for (int p0 = 0; p0 < k; p0 += Kc)
                {
                    int kb = Math.Min(Kc, k - p0);
                    bool acc = accumulate || p0 > 0;
                    if (transposeB)
                    {
                        PackTransposed(pb, k, p0, kb, j0, nb, pp);
                    }
                    else
                    {
                        Pack(pb, n, p0, kb, j0, nb, pp);
                    }
                    for (int q = 0; q < panels; q++)
                    {
                        int cols = Math.Min(Nr, nb - (q * Nr));
                        float* bp = pp + (q * kb * Nr);
                        float* cBase = pc + j0 + (q * Nr);
                        float* aBase = pa + (p0 * cs);
                        int i = 0;
                        for (; i + Mr <= m; i += Mr)
                        {
                            Kernel4(aBase + (i * rs), rs, cs, bp, kb, cBase + ((long)i * n), n, cols, acc);
                        }

                        for (; i < m; i++)
                        {
                            Kernel1(aBase + (i * rs), cs, bp, kb, cBase + ((long)i * n), cols, acc);
                        }
                    }
                }
            }
        }
    }

    /// <summary>dst[cols×rows] = src[rows×cols]ᵀ.</summary>
    public static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        if (src.Length < rows * cols || dst.Length < rows * cols)
        {
            throw new ArgumentException("Transpose: buffers too short.");
        }

        const int block = 32;
        for (int r0 = 0; r0 < rows; r0 += block)
        {
            int r1 = Math.Min(rows, r0 + block);
            for (int c0 = 0; c0 < cols; c0 += block)
            {
                int c1 = Math.Min(cols, c0 + block);
                for (int r = r0; r < r1; r++)
                {
                    for (int col = c0; col < c1; col++)
                    {
                        dst[(col * rows) + r] = src[(r * cols) + col];
                    }
                }
            }
        }
    }

    private static void Pack(float* b, int ldb, int p0, int kb, int j0, int nb, float* dst)
    {
        int panels = (nb + Nr - 1) / Nr;
        for (int q = 0; q < panels; q++)
        {
            int cols = Math.Min(Nr, nb - (q * Nr));
            float* d = dst + (q * kb * Nr);
            float* s = b + ((long)p0 * ldb) + j0 + (q * Nr);
            if (cols == Nr)
            {
                for (int kk = 0; kk < kb; kk++, s += ldb, d += Nr)
                {
                    Vector256.Store(Vector256.Load(s), d);
                    Vector256.Store(Vector256.Load(s + 8), d + 8);
                }
            }
            else
            {
                for (int kk = 0; kk < kb; kk++, s += ldb, d += Nr)
                {
                    int col = 0;
                    for (; col < cols; col++)
                    {
                        d[col] = s[col];
                    }

                    for (; col < Nr; col++)
                    {
                        d[col] = 0;
                    }
                }
            }
        }
    }

    private static void MultiplyNarrow(float* a, long rs, long cs, float* b, bool transposeB, float* c, int m, int k, int n, bool accumulate, float* pack)
    {
        for (int p0 = 0; p0 < k; p0 += Kc)
        {
            int kb = Math.Min(Kc, k - p0);
            bool acc = accumulate || p0 > 0;
            // Pack B[p0 .. p0 + kb, 0 .. n) into one zero-padded panel of 8 columns.
            for (int kk = 0; kk < kb; kk++)
            {
                float* d = pack + (kk * NarrowNr);
                for (int j = 0; j < NarrowNr; j++)
                {
                    d[j] = j >= n ? 0f : transposeB ? b[((long)j * k) + p0 + kk] : b[((long)(p0 + kk) * n) + j];
                }
            }

            float* aBase = a + (p0 * cs);
            int i = 0;
            for (; i + NarrowMr <= m; i += NarrowMr)
            {
                Kernel8x8(aBase + (i * rs), rs, cs, pack, kb, c + ((long)i * n), n, acc);
            }

            for (; i < m; i++)
            {
                var acc0 = Vector256<float>.Zero;
                float* ap = aBase + (i * rs);
                float* bp = pack;
                for (int kk = 0; kk < kb; kk++, ap += cs, bp += NarrowNr)
                {
                    acc0 = Vector256.FusedMultiplyAdd(Vector256.Create(*ap), Vector256.Load(bp), acc0);
                }

                StoreNarrow(c + ((long)i * n), acc0, n, acc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x8(float* a, long rs, long cs, float* b, int kb, float* c, int ldc, bool acc)
    {
        var c0 = Vector256<float>.Zero;
        var c1 = Vector256<float>.Zero;
        var c2 = Vector256<float>.Zero;
        var c3 = Vector256<float>.Zero;
        var c4 = Vector256<float>.Zero;
        var c5 = Vector256<float>.Zero;
        var c6 = Vector256<float>.Zero;
        var c7 = Vector256<float>.Zero;
        for (int kk = 0; kk < kb; kk++)
        {
            var bv = Vector256.Load(b);
            b += NarrowNr;
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[0]), bv, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a[rs]), bv, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a[2 * rs]), bv, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a[3 * rs]), bv, c3);
            c4 = Vector256.FusedMultiplyAdd(Vector256.Create(a[4 * rs]), bv, c4);
            c5 = Vector256.FusedMultiplyAdd(Vector256.Create(a[5 * rs]), bv, c5);
            c6 = Vector256.FusedMultiplyAdd(Vector256.Create(a[6 * rs]), bv, c6);
            c7 = Vector256.FusedMultiplyAdd(Vector256.Create(a[7 * rs]), bv, c7);
            a += cs;
        }

        StoreNarrow(c, c0, ldc, acc);
        StoreNarrow(c + ldc, c1, ldc, acc);
        StoreNarrow(c + (2 * ldc), c2, ldc, acc);
        StoreNarrow(c + (3 * ldc), c3, ldc, acc);
        StoreNarrow(c + (4 * ldc), c4, ldc, acc);
        StoreNarrow(c + (5 * ldc), c5, ldc, acc);
        StoreNarrow(c + (6 * ldc), c6, ldc, acc);
        StoreNarrow(c + (7 * ldc), c7, ldc, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreNarrow(float* c, Vector256<float> v, int cols, bool acc)
    {
        if (cols == NarrowNr)
        {
            Vector256.Store(acc ? v + Vector256.Load(c) : v, c);
            return;
        }

        float* tmp = stackalloc float[NarrowNr];
        Vector256.Store(v, tmp);
        for (int j = 0; j < cols; j++)
        {
            c[j] = acc ? c[j] + tmp[j] : tmp[j];
        }
    }

    private static void PackTransposed(float* b, int ldb, int p0, int kb, int j0, int nb, float* dst)
    {
        // B is stored n×k: column j of op(B) is row j of B, contiguous over k.
        int panels = (nb + Nr - 1) / Nr;
        for (int q = 0; q < panels; q++)
        {
            int cols = Math.Min(Nr, nb - (q * Nr));
            float* d = dst + (q * kb * Nr);
            for (int jj = 0; jj < cols; jj++)
            {
                float* s = b + ((long)(j0 + (q * Nr) + jj) * ldb) + p0;
                for (int kk = 0; kk < kb; kk++)
                {
                    d[(kk * Nr) + jj] = s[kk];
                }
            }

            for (int jj = cols; jj < Nr; jj++)
            {
                for (int kk = 0; kk < kb; kk++)
                {
                    d[(kk * Nr) + jj] = 0;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4(float* a, long rs, long cs, float* b, int kb, float* c, int ldc, int cols, bool acc)
    {
        var c00 = Vector256<float>.Zero;
        var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero;
        var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero;
        var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero;
        var c31 = Vector256<float>.Zero;
        float* a0 = a;
        float* a1 = a + rs;
        float* a2 = a + (2 * rs);
        float* a3 = a + (3 * rs);
        for (int kk = 0; kk < kb; kk++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            b += Nr;
            var x = Vector256.Create(*a0);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(*a1);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(*a2);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(*a3);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            a0 += cs;
            a1 += cs;
            a2 += cs;
            a3 += cs;
        }

        Store(c, c00, c01, cols, acc);
        Store(c + ldc, c10, c11, cols, acc);
        Store(c + (2 * ldc), c20, c21, cols, acc);
        Store(c + (3 * ldc), c30, c31, cols, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel1(float* a, long cs, float* b, int kb, float* c, int cols, bool acc)
    {
        var c0 = Vector256<float>.Zero;
        var c1 = Vector256<float>.Zero;
        for (int kk = 0; kk < kb; kk++)
        {
            var x = Vector256.Create(*a);
            c0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b), c0);
            c1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b + 8), c1);
            b += Nr;
            a += cs;
        }

        Store(c, c0, c1, cols, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> lo, Vector256<float> hi, int cols, bool acc)
    {
        if (cols == Nr)
        {
            if (acc)
            {
                lo += Vector256.Load(c);
                hi += Vector256.Load(c + 8);
            }

            Vector256.Store(lo, c);
            Vector256.Store(hi, c + 8);
            return;
        }

        float* tmp = stackalloc float[Nr];
        Vector256.Store(lo, tmp);
        Vector256.Store(hi, tmp + 8);
        for (int j = 0; j < cols; j++)
        {
            c[j] = acc ? c[j] + tmp[j] : tmp[j];
        }
    }
}
