using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Confide.Server.Internal;

/// <summary>
/// Kestrel's connection buffers in blocks of <see cref="BlockSize"/> bytes instead of its default 4 KiB. A round moves
/// model-sized streams (megabytes per client) through several pipes per connection (socket, TLS, HTTP/2, the request
/// body); with 4 KiB blocks the server spent about 7 % of its CPU renting and returning blocks, and more walking and
/// copying across the segments they make (docs/bench/federation.md, "Fourth session"). Blocks are pinned arrays (sockets
/// and TLS pin them for every operation) and are not cleared on return, like Kestrel's own pool: a pipe never exposes
/// bytes beyond what was written into a block. At most <see cref="MaxRetainedBlocks"/> free blocks are kept; the rest
/// go to the GC. Kestrel's memory-pool metrics (<c>Microsoft.AspNetCore.MemoryPool</c>) do not cover this pool.
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>128 KiB: eight full HTTP/2 frames or TLS records, two upload chunks. 64 and 256 KiB measured no better.</summary>
    public const int BlockSize = 128 << 10;

    /// <summary>Free blocks kept for reuse: 512 × 128 KiB = 64 MiB at most.</summary>
    public const int MaxRetainedBlocks = 512;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _retained;
    private volatile bool _disposed;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Free blocks held now (for tests).</summary>
    internal int RetainedBlocks => Volatile.Read(ref _retained);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _retained);
            block.Lease();
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
        Volatile.Write(ref _retained, 0);
    }

    private void Return(Block block)
    {
        if (_disposed || Interlocked.Increment(ref _retained) > MaxRetainedBlocks)
        {
            Interlocked.Decrement(ref _retained);
            return;
        }

        _free.Enqueue(block);
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly LargeBlockMemoryPool _pool;
        private int _leased = 1;

        public Block(LargeBlockMemoryPool pool)
        {
            _pool = pool;
            Memory = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        }

        public Memory<byte> Memory { get; }

        public void Lease() => Volatile.Write(ref _leased, 1);

        public void Dispose()
        {
            // A second Dispose of the same lease must not put the block in the queue twice.
            if (Interlocked.Exchange(ref _leased, 0) == 1)
            {
                _pool.Return(this);
            }
        }
    }
}

/// <summary>Gives Kestrel's transport a <see cref="LargeBlockMemoryPool"/> (registered in the server's services).</summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private int _created;

    /// <summary>Pools made so far: shows that Kestrel took its buffers from here (for tests).</summary>
    public int PoolsCreated => Volatile.Read(ref _created);

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        Interlocked.Increment(ref _created);
        return new LargeBlockMemoryPool();
    }
}
