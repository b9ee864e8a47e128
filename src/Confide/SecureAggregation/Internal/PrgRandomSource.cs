using System.Buffers.Binary;
using Confide.Randomness;

namespace Confide.SecureAggregation.Internal;

/// <summary>
/// A deterministic <see cref="IRandomSource"/> reading little-endian 64-bit words from an AES-CTR stream, so every
/// party that knows a public seed draws the same values on any platform.
/// </summary>
internal sealed class PrgRandomSource : IRandomSource, IDisposable
{
    private readonly MaskPrg _prg;
    private readonly byte[] _buffer = new byte[512];
    private long _position;
    private int _used;

    public PrgRandomSource(MaskPrg prg)
    {
        _prg = prg;
        _used = _buffer.Length;
    }

    public ulong NextUInt64()
    {
        if (_used == _buffer.Length)
        {
            _prg.Generate(_buffer, _position);
            _position += _buffer.Length;
            _used = 0;
        }

        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_used));
        _used += 8;
        return value;
    }

    public void NextBytes(Span<byte> destination)
    {
        Span<byte> word = stackalloc byte[8];
        while (!destination.IsEmpty)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(word, NextUInt64());
            int take = Math.Min(8, destination.Length);
            word[..take].CopyTo(destination);
            destination = destination[take..];
        }
    }

    public IRandomSource Fork(ulong stream) => throw new NotSupportedException("A public-seed stream cannot be forked.");

    public void Dispose() => _prg.Dispose();
}
