using System.Numerics.Tensors;

namespace Confide.Aggregation.Internal;

/// <summary>Σ cᵢ·xᵢ over a few rows of equal length, in coordinate chunks spread across cores.</summary>
internal static class ParallelLinearCombination
{
    /// <summary>Floats per chunk: 64 KiB of output, so a chunk of the output stays in L1/L2 while every row is added.</summary>
    private const int ChunkLength = 16 * 1024;

    public static float[] Compute(IReadOnlyList<ReadOnlyMemory<float>> rows, IReadOnlyList<int> indices, IReadOnlyList<float> coefficients, int length)
    {
        var result = new float[length];
        if (indices.Count == 0 || length == 0)
        {
            return result;
        }

        int chunks = (length + ChunkLength - 1) / ChunkLength;
        void Chunk(int c)
        {
            int start = c * ChunkLength;
            int len = Math.Min(ChunkLength, length - start);
            Span<float> destination = result.AsSpan(start, len);
            TensorPrimitives.Multiply(rows[indices[0]].Span.Slice(start, len), coefficients[0], destination);
            for (int s = 1; s < indices.Count; s++)
            {
                TensorPrimitives.MultiplyAdd(rows[indices[s]].Span.Slice(start, len), coefficients[s], destination, destination);
            }
        }

        if (chunks == 1)
        {
            Chunk(0);
        }
        else
        {
            Parallel.For(0, chunks, Chunk);
        }

        return result;
    }
}
