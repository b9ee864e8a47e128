namespace Confide.Aggregation.Internal;

/// <summary>
/// Bulyan's second phase (El Mhamdi et al. 2018): for every coordinate, the mean of the β values closest to that
/// coordinate's median among the selected rows.
/// </summary>
/// <remarks>
/// Work is done on blocks of coordinates: each selected row's block is copied into a small tile (sequential reads),
/// then each coordinate's θ values are gathered from the tile, sorted, and the β closest to the median — always a
/// contiguous run of the sorted values — are averaged in double. Blocks run in parallel.
/// </remarks>
internal static class ClosestToMedianMean
{
    private const int BlockLength = 512;

    public static float[] Compute(IReadOnlyList<ReadOnlyMemory<float>> rows, IReadOnlyList<int> selected, int beta, int length)
    {
        int theta = selected.Count;
        if (beta < 1 || beta > theta)
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"β must be in 1..{theta}.");
        }

        var result = new float[length];
        int blocks = (length + BlockLength - 1) / BlockLength;
        if ((long)length * theta < (1 << 16))
        {
            var tile = new float[theta * BlockLength];
            var values = new float[theta];
            for (int b = 0; b < blocks; b++)
            {
                ProcessBlock(rows, selected, beta, result, b, tile, values);
            }
        }
        else
        {
            Parallel.For(
                0,
                blocks,
                () => (Tile: new float[theta * BlockLength], Values: new float[theta]),
                (b, _, buffers) =>
                {
                    ProcessBlock(rows, selected, beta, result, b, buffers.Tile, buffers.Values);
                    return buffers;
                },
                _ => { });
        }

        return result;
    }

    /// <summary>The mean of the <paramref name="beta"/> values of sorted <paramref name="sorted"/> closest to its median.</summary>
    public static double MeanClosestToMedian(ReadOnlySpan<float> sorted, int beta)
    {
        int theta = sorted.Length;
        // Median of an even count is the midpoint of the two middle values.
        double median = (theta & 1) == 1
            ? sorted[theta / 2]
            : 0.5 * ((double)sorted[(theta / 2) - 1] + sorted[theta / 2]);

        // The β closest values form a window [start, start + β) of the sorted values. Slide it right while the value
        // leaving on the left is strictly farther from the median than the one entering on the right (ties keep the left).
        int start = 0;
        while (start < theta - beta && median - sorted[start] > sorted[start + beta] - median)
        {
            start++;
        }

        double sum = 0;
        for (int k = start; k < start + beta; k++)
        {
            sum += sorted[k];
        }

        return sum / beta;
    }

    private static void ProcessBlock(
        IReadOnlyList<ReadOnlyMemory<float>> rows, IReadOnlyList<int> selected, int beta, float[] result, int block, float[] tile, float[] values)
    {
        int theta = selected.Count;
        int start = block * BlockLength;
        int length = Math.Min(BlockLength, result.Length - start);
        for (int s = 0; s < theta; s++)
        {
            rows[selected[s]].Span.Slice(start, length).CopyTo(tile.AsSpan(s * BlockLength, length));
        }

        for (int j = 0; j < length; j++)
        {
            for (int s = 0; s < theta; s++)
            {
                values[s] = tile[(s * BlockLength) + j];
            }

            values.AsSpan().Sort();
            result[start + j] = (float)MeanClosestToMedian(values, beta);
        }
    }
}
