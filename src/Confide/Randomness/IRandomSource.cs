namespace Confide.Randomness;

/// <summary>
/// The one source of randomness for keys, masks, shares, DP noise, sampling and attacks.
/// Production code receives <see cref="CryptoRandomSource"/>; tests and reproducible simulations
/// inject <see cref="SeededRandomSource"/> through this same interface.
/// </summary>
/// <remarks>Implementations are not required to be thread-safe; give each thread its own source (see <see cref="Fork"/>).</remarks>
public interface IRandomSource
{
    /// <summary>Fills <paramref name="destination"/> with uniformly random bytes.</summary>
    void NextBytes(Span<byte> destination);

    /// <summary>A uniformly random 64-bit value.</summary>
    ulong NextUInt64();

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>), without modulo bias (Lemire's method with rejection).</summary>
    int NextInt32(int exclusiveMax)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exclusiveMax);
        return (int)NextUInt64Below((ulong)exclusiveMax);
    }

    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>), without modulo bias.</summary>
    ulong NextUInt64Below(ulong exclusiveMax)
    {
        ArgumentOutOfRangeException.ThrowIfZero(exclusiveMax);
        // Rejection sampling on the top of the range keeps the distribution exactly uniform.
        ulong limit = ulong.MaxValue - (ulong.MaxValue % exclusiveMax) - 1;
        ulong x;
        do
        {
            x = NextUInt64();
        }
        while (x > limit);
        return x % exclusiveMax;
    }

    /// <summary>
    /// An independent source for another thread or another component. A CSPRNG forks into a fresh CSPRNG;
    /// a seeded source forks deterministically, so parallel simulations stay reproducible.
    /// </summary>
    IRandomSource Fork(ulong stream);
}
