using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Confide.Aggregation.Internal;

/// <summary>(Σ cᵢ·xᵢ) / divisor over a few rows of equal length, accumulated in double, in coordinate chunks spread across cores.</summary>
internal static class ParallelLinearCombination
{
    /// <summary>Coordinates per chunk: a 32 KiB double accumulator that stays in L1 while every row is added.</summary>
    private const int ChunkLength = 4 * 1024;

    /// <summary>
    /// Returns (float)((Σₛ coefficients[s]·rows[indices[s]]) / divisor). Accumulating in double and dividing once makes the
    /// plain mean of identical rows (coefficients 1, divisor m) exactly that row.
    /// </summary>
    public static float[] Compute(
        IReadOnlyList<ReadOnlyMemory<float>> rows, IReadOnlyList<int> indices, IReadOnlyList<double> coefficients, double divisor, int length)
    {
        var result = new float[length];
        if (indices.Count == 0 || length == 0)
        {
            return result;
        }

        int chunks = (length + ChunkLength - 1) / ChunkLength;
        if ((long)length * indices.Count < (1 << 18))
        {
            var accumulator = new double[ChunkLength];
            for (int c = 0; c < chunks; c++)
            {
                Chunk(rows, indices, coefficients, divisor, result, c, accumulator);
            }
        }
        else
        {
            Parallel.For(
                0,
                chunks,
                () => new double[ChunkLength],
                (c, _, accumulator) =>
                {
                    Chunk(rows, indices, coefficients, divisor, result, c, accumulator);
                    return accumulator;
                },
                _ => { });
        }

        return result;
    }

    private static void Chunk(
        IReadOnlyList<ReadOnlyMemory<float>> rows, IReadOnlyList<int> indices, IReadOnlyList<double> coefficients, double divisor,
        float[] result, int chunk, double[] accumulator)
    {
        int start = chunk * ChunkLength;
        int length = Math.Min(ChunkLength, result.Length - start);
        int vectorLength = length - (length % Vector256<float>.Count);
        Array.Clear(accumulator, 0, length);
        ref double acc = ref MemoryMarshal.GetArrayDataReference(accumulator);
        for (int s = 0; s < indices.Count; s++)
        {
            ReadOnlySpan<float> row = rows[indices[s]].Span.Slice(start, length);
            ref float x = ref MemoryMarshal.GetReference(row);
            double coefficient = coefficients[s];
            var c = Vector256.Create(coefficient);
            for (int k = 0; k < vectorLength; k += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref x, (nuint)k));
                Vector256.FusedMultiplyAdd(lower, c, Vector256.LoadUnsafe(ref acc, (nuint)k)).StoreUnsafe(ref acc, (nuint)k);
                Vector256.FusedMultiplyAdd(upper, c, Vector256.LoadUnsafe(ref acc, (nuint)(k + 4))).StoreUnsafe(ref acc, (nuint)(k + 4));
            }

            for (int k = vectorLength; k < length; k++)
            {
                accumulator[k] = Math.FusedMultiplyAdd(row[k], coefficient, accumulator[k]);
            }
        }

        Span<float> destination = result.AsSpan(start, length);
        for (int k = 0; k < length; k++)
        {
            destination[k] = (float)(accumulator[k] / divisor);
        }
    }
}
