namespace Confide.Training.Data;

/// <summary>The shape of one input sample: channels × height × width (a flat vector is 1 × 1 × n).</summary>
/// <param name="Channels">The number of channels (1 for grey images).</param>
/// <param name="Height">The height in pixels.</param>
/// <param name="Width">The width in pixels.</param>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>The number of values per sample.</summary>
    public int Size => checked(Channels * Height * Width);

    /// <summary>Checks that every dimension is positive.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is zero or negative.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Width);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
