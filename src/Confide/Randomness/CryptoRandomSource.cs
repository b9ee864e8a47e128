using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Confide.Randomness;

/// <summary>
/// The production source: the operating system's CSPRNG through <see cref="RandomNumberGenerator"/>.
/// Use it for keys, masks, shares and DP noise.
/// </summary>
public sealed class CryptoRandomSource : IRandomSource
{
    /// <summary>The shared instance; <see cref="RandomNumberGenerator.Fill"/> is thread-safe.</summary>
    public static CryptoRandomSource Instance { get; } = new();

    private CryptoRandomSource()
    {
    }

    /// <inheritdoc/>
    public void NextBytes(Span<byte> destination) => RandomNumberGenerator.Fill(destination);

    /// <inheritdoc/>
    public ulong NextUInt64()
    {
        Span<byte> buffer = stackalloc byte[8];
        RandomNumberGenerator.Fill(buffer);
        return BinaryPrimitives.ReadUInt64LittleEndian(buffer);
    }

    /// <inheritdoc/>
    public IRandomSource Fork(ulong stream) => this;

    /// <inheritdoc/>
    public override string ToString() => "CryptoRandomSource";
}
