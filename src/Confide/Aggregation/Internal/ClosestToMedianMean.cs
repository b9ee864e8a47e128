using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Confide.Aggregation.Internal;

/// <summary>
/// Bulyan's second phase (El Mhamdi et al. 2018): for every coordinate, the mean of the β values closest to that
/// coordinate's median among the selected rows.
/// </summary>
/// <remarks>
/// Work is done on blocks of coordinates: each selected row's block is copied into a small tile (sequential reads).
/// Eight coordinates at a time are then sorted together by a Batcher sorting network on Vector256 lanes (min/max of
/// whole vectors, no branches), and for each coordinate the β values closest to the median — always a contiguous run
/// of the sorted values — are averaged in double. Blocks run in parallel.
/// </remarks>
internal static class ClosestToMedianMean
{
    private const int BlockLength = 512;

    private static readonly int Lanes = Vector256<float>.Count;

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

    /// <summary>
    /// <see cref="MeanClosestToMedian(ReadOnlySpan{float}, int)"/> for the eight coordinates held in the lanes of
    /// <paramref name="sorted"/> (already sorted lane-wise), with the same double arithmetic in the same order, so the
    /// results are bit-identical. Returns the lower and upper four means.
    /// </summary>
    private static (Vector256<double> Lower, Vector256<double> Upper) MeanClosestToMedian(ReadOnlySpan<Vector256<float>> sorted, int beta)
    {
        int theta = sorted.Length;
        Vector256<double> medianLow, medianHigh;
        if ((theta & 1) == 1)
        {
            (medianLow, medianHigh) = Vector256.Widen(sorted[theta / 2]);
        }
        else
        {
            var (aLow, aHigh) = Vector256.Widen(sorted[(theta / 2) - 1]);
            var (bLow, bHigh) = Vector256.Widen(sorted[theta / 2]);
            var half = Vector256.Create(0.5);
            medianLow = half * (aLow + bLow);
            medianHigh = half * (aHigh + bHigh);
        }

        // The window start is the number of t in [0, θ − β) where the left value is strictly farther from the median than
        // the right one: that condition is monotone in t, so counting it equals the scalar sliding loop.
        var one = Vector256.Create(1.0);
        Vector256<double> startLow = Vector256<double>.Zero, startHigh = Vector256<double>.Zero;
        for (int t = 0; t < theta - beta; t++)
        {
            var (leftLow, leftHigh) = Vector256.Widen(sorted[t]);
            var (rightLow, rightHigh) = Vector256.Widen(sorted[t + beta]);
            startLow += Vector256.GreaterThan(medianLow - leftLow, rightLow - medianLow) & one;
            startHigh += Vector256.GreaterThan(medianHigh - leftHigh, rightHigh - medianHigh) & one;
        }

        var betaVector = Vector256.Create((double)beta);
        Vector256<double> endLow = startLow + betaVector, endHigh = startHigh + betaVector;
        Vector256<double> sumLow = Vector256<double>.Zero, sumHigh = Vector256<double>.Zero;
        for (int t = 0; t < theta; t++)
        {
            var position = Vector256.Create((double)t);
            var (valueLow, valueHigh) = Vector256.Widen(sorted[t]);
            var inLow = Vector256.GreaterThanOrEqual(position, startLow) & Vector256.LessThan(position, endLow);
            var inHigh = Vector256.GreaterThanOrEqual(position, startHigh) & Vector256.LessThan(position, endHigh);
            // Values before the window add +0.0, which leaves the running sum unchanged.
            sumLow += valueLow & inLow;
            sumHigh += valueHigh & inHigh;
        }

        return (sumLow / betaVector, sumHigh / betaVector);
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

        int vectorLength = Vector256.IsHardwareAccelerated ? length - (length % Lanes) : 0;
        if (vectorLength > 0)
        {
            int[] network = SortingNetwork.Full(theta);
            // 32 bytes per selected input: keep large rounds off the stack.
            Span<Vector256<float>> lanes = theta <= 256 ? stackalloc Vector256<float>[theta] : new Vector256<float>[theta];
            ref Vector256<float> lane0 = ref MemoryMarshal.GetReference(lanes);
            ref int pair0 = ref MemoryMarshal.GetArrayDataReference(network);
            ref float tileRef = ref MemoryMarshal.GetArrayDataReference(tile);
            for (int j = 0; j < vectorLength; j += Lanes)
            {
                // Sort Lanes coordinates at once: lane l of lanes[s] is row s's value at coordinate j + l.
                for (int s = 0; s < theta; s++)
                {
                    Unsafe.Add(ref lane0, s) = Vector256.LoadUnsafe(ref tileRef, (nuint)((s * BlockLength) + j));
                }

                for (int c = 0; c < network.Length; c += 2)
                {
                    ref Vector256<float> low = ref Unsafe.Add(ref lane0, Unsafe.Add(ref pair0, c));
                    ref Vector256<float> high = ref Unsafe.Add(ref lane0, Unsafe.Add(ref pair0, c + 1));
                    Vector256<float> x = low;
                    Vector256<float> y = high;
                    // No NaNs reach here (the distance phase rejects them), so the native min/max are exact.
                    low = Vector256.MinNative(x, y);
                    high = Vector256.MaxNative(x, y);
                }

                var (lower, upper) = MeanClosestToMedian(lanes, beta);
                Vector256.Narrow(lower, upper).StoreUnsafe(ref result[start + j]);
            }
        }

        for (int j = vectorLength; j < length; j++)
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
