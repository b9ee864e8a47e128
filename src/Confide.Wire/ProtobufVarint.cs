using System.Buffers;

namespace Confide.Wire;

/// <summary>
/// The protobuf base-128 varint, for the chunk fast paths that read <c>UpdateChunk</c> and <c>ModelChunk</c> bytes
/// straight from the transport (the server's upload sink, the client's model download) instead of through the
/// generated parser.
/// </summary>
public static class ProtobufVarint
{
    /// <summary>
    /// Reads one varint of at most 10 bytes, as protobuf writes them (an int64 field is its two's complement, so a cast
    /// recovers it). False when the bytes end first or the tenth byte still has its continuation bit.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out byte b))
            {
                return false;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
