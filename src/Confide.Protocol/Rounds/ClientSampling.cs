namespace Confide.Protocol.Rounds;

/// <summary>
/// How many connected clients a round samples: a fixed <see cref="Count"/> or a <see cref="Fraction"/> of those
/// connected, never fewer than <see cref="Minimum"/>. A round does not start until <see cref="Minimum"/> clients are
/// connected.
/// </summary>
public sealed record ClientSampling
{
    private ClientSampling(double? fraction, int? count, int minimum)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minimum, 1);
        Fraction = fraction;
        Count = count;
        Minimum = minimum;
    }

    /// <summary>The fraction of connected clients sampled, in (0, 1]; null when a count is fixed.</summary>
    public double? Fraction { get; }

    /// <summary>The number of clients sampled; null when a fraction is used.</summary>
    public int? Count { get; }

    /// <summary>The fewest clients a round samples (and the fewest that must be connected for it to start).</summary>
    public int Minimum { get; }

    /// <summary>Samples ⌈fraction × connected⌉ clients, at least <paramref name="minimum"/>.</summary>
    public static ClientSampling OfFraction(double fraction, int minimum)
    {
        if (!(fraction > 0 && fraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The fraction of clients per round must be in (0, 1].");
        }

        return new ClientSampling(fraction, null, minimum);
    }

    /// <summary>Samples exactly <paramref name="count"/> clients (so at least that many must be connected).</summary>
    public static ClientSampling OfCount(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return new ClientSampling(null, count, count);
    }

    /// <summary>How many to sample from <paramref name="connected"/> clients; 0 when too few are connected.</summary>
    public int SampleSize(int connected)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(connected);
        if (connected < Minimum)
        {
            return 0;
        }

        int wanted = Count ?? (int)Math.Ceiling(Fraction!.Value * connected);
        return Math.Clamp(wanted, Minimum, connected);
    }

    /// <inheritdoc/>
    public override string ToString() => Count is int c ? $"{c} clients per round" : $"{Fraction:G4} of connected clients, at least {Minimum}";
}
