using System.Buffers.Binary;
using System.Text;

namespace Confide.SecureAggregation.Internal;

/// <summary>Unambiguous encodings of labels, contexts and ids for HKDF info, AEAD associated data and signatures.</summary>
internal static class Binding
{
    /// <summary>label (u8 length + ASCII) ‖ session id (u8 length + bytes) ‖ round (u64 BE) ‖ each id (u32 BE) ‖ each extra (u8 length + bytes).</summary>
    public static byte[] Encode(string label, SecAggContext context, ReadOnlySpan<int> ids, params ReadOnlySpan<byte[]> extras)
    {
        int length = 1 + Encoding.ASCII.GetByteCount(label) + 1 + context.SessionId.Length + 8 + (4 * ids.Length);
        foreach (var extra in extras)
        {
            length += 1 + extra.Length;
        }

        var buffer = new byte[length];
        int offset = 0;
        byte[] labelBytes = Encoding.ASCII.GetBytes(label);
        buffer[offset++] = checked((byte)labelBytes.Length);
        labelBytes.CopyTo(buffer, offset);
        offset += labelBytes.Length;
        buffer[offset++] = checked((byte)context.SessionId.Length);
        context.SessionId.CopyTo(buffer.AsSpan(offset));
        offset += context.SessionId.Length;
        BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(offset), context.Round);
        offset += 8;
        foreach (int id in ids)
        {
            BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(offset), id);
            offset += 4;
        }

        foreach (var extra in extras)
        {
            buffer[offset++] = checked((byte)extra.Length);
            extra.CopyTo(buffer, offset);
            offset += extra.Length;
        }

        return buffer;
    }
}
