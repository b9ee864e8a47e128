namespace Confide.Training.Data;

/// <summary>An unsigned-byte array read from an IDX file: its dimensions and its values in row-major order.</summary>
/// <param name="Dimensions">The sizes, outermost first (for MNIST images: count, rows, columns).</param>
/// <param name="Values">The values.</param>
public sealed record IdxArray(int[] Dimensions, byte[] Values);
