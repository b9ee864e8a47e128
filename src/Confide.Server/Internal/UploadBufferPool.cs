using System.Runtime.InteropServices;

namespace Confide.Server.Internal;

/// <summary>
/// Buffers for received updates, each starting on a <see cref="DirectIo.Alignment"/> boundary so the pending-update
/// file can be written from it with direct I/O (see <see cref="DirectIo"/>). The arrays are pinned (they never move, so
/// the alignment holds) and reused; a buffer is cleared before it comes back, as it held an individual update.
/// </summary>
internal sealed class UploadBufferPool
{
    private readonly Lock _gate = new();
    private readonly Stack<ArraySegment<byte>> _free = new();

    /// <summary>An aligned buffer of at least <paramref name="length"/> bytes (its contents are zero).</summary>
    public ArraySegment<byte> Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        lock (_gate)
        {
            while (_free.TryPop(out var buffer))
            {
                if (buffer.Count >= length)
                {
                    return buffer;
                }
            }
        }

        // Room for the length rounded up to whole blocks, plus the shift to the first aligned address.
        int capacity = checked(((length + DirectIo.Alignment - 1) & ~(DirectIo.Alignment - 1)) + DirectIo.Alignment);
        byte[] array = GC.AllocateArray<byte>(capacity, pinned: true);
        int shift = (int)((DirectIo.Alignment - (Marshal.UnsafeAddrOfPinnedArrayElement(array, 0) & (DirectIo.Alignment - 1))) & (DirectIo.Alignment - 1));
        return new ArraySegment<byte>(array, shift, capacity - DirectIo.Alignment);
    }

    /// <summary>Clears the first <paramref name="used"/> bytes of <paramref name="buffer"/> and keeps it for the next upload.</summary>
    public void Return(ArraySegment<byte> buffer, int used)
    {
        buffer.AsSpan(0, Math.Min(used, buffer.Count)).Clear();
        lock (_gate)
        {
            _free.Push(buffer);
        }
    }
}
