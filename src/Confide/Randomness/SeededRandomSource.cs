using System.Buffers.Binary;
using System.Numerics;

namespace Confide.Randomness;

/// <summary>
/// A deterministic source (xoshiro256** seeded through SplitMix64) for tests and for reproducible
/// simulations. It is <b>not</b> cryptographically secure: never use it for keys, masks or shares
/// outside a test or a simulation the user asked to be reproducible.
/// </summary>
/// <remarks>Blackman and Vigna, "Scrambled Linear Pseudorandom Number Generators", ACM TOMS 2021.</remarks>
public sealed class SeededRandomSource : IRandomSource
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a source whose whole output is fixed by <paramref name="seed"/>.</summary>
    public SeededRandomSource(ulong seed)
    {
        Seed = seed;
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>The seed this source started from.</summary>
    public ulong Seed { get; }

    /// <inheritdoc/>
    public ulong NextUInt64()
    {
        unchecked
        {
            ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
            ulong t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = BitOperations.RotateLeft(_s3, 45);
            return result;
        }
    }

    /// <inheritdoc/>
    public void NextBytes(Span<byte> destination)
    {
        while (destination.Length >= 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination, NextUInt64());
            destination = destination[8..];
        }

        if (!destination.IsEmpty)
        {
            Span<byte> last = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(last, NextUInt64());
            last[..destination.Length].CopyTo(destination);
        }
    }

    /// <inheritdoc/>
    public IRandomSource Fork(ulong stream)
    {
        unchecked
        {
            // Mix the parent seed and the stream number so that forks are independent of call order.
            ulong x = Seed ^ (0x9E3779B97F4A7C15UL * (stream + 1));
            return new SeededRandomSource(SplitMix(ref x));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"SeededRandomSource({Seed})";

    private static ulong SplitMix(ref ulong x)
    {
        unchecked
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
