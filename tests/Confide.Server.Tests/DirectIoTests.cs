using Confide.Server.Internal;

namespace Confide.Server.Tests;

/// <summary>
/// Pending updates are written with direct I/O from block-aligned upload buffers (<see cref="DirectIo"/>,
/// <see cref="UploadBufferPool"/>): the file holds exactly the bytes, whatever the length, and anything direct I/O cannot
/// take falls back to the ordinary write.
/// </summary>
public sealed class DirectIoTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "confide-directio-" + Guid.NewGuid().ToString("N"));

    public DirectIoTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData((3 * 4096) + 17)]
    [InlineData(1 << 20)]
    public void An_aligned_buffer_is_written_exactly_whatever_its_length(int length)
    {
        var pool = new UploadBufferPool();
        var buffer = pool.Rent(length);
        Assert.True(buffer.Count >= length);
        var random = new Random(length);
        random.NextBytes(buffer.AsSpan(0, length));

        // Stale bytes past the end must not reach the file.
        buffer.AsSpan(length).Fill(0xEE);
        string path = Path.Combine(_folder, $"f{length}");
        bool direct = DirectIo.TryWriteFile(path, buffer.AsSpan(0, length));
        if (!direct)
        {
            // Only acceptable where direct I/O is not available at all (then the store writes through the page cache).
            Assert.False(DirectIoAvailable(), "direct I/O works here, yet this aligned write fell back");
            return;
        }

        Assert.Equal(buffer.AsSpan(0, length).ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void An_unaligned_buffer_is_left_to_the_ordinary_write()
    {
        var buffer = new UploadBufferPool().Rent(8192);
        Assert.False(DirectIo.TryWriteFile(Path.Combine(_folder, "unaligned"), buffer.AsSpan(1, 4096)));
        Assert.False(DirectIo.TryWriteFile(Path.Combine(_folder, "empty"), []));
    }

    [Fact]
    public void A_pending_update_round_trips_through_the_store_from_an_aligned_buffer_and_from_an_ordinary_array()
    {
        var store = StateStore.Open(_folder);
        try
        {
            var pool = new UploadBufferPool();
            var aligned = pool.Rent(10_001);
            new Random(1).NextBytes(aligned.AsSpan(0, 10_001));
            string a = store.WritePendingUpdate(3, aligned.AsSpan(0, 10_001));
            Assert.Equal(aligned.AsSpan(0, 10_001).ToArray(), File.ReadAllBytes(Path.Combine(store.PendingDirectory, a)));

            byte[] plain = [1, 2, 3, 4, 5];
            string b = store.WritePendingUpdate(3, plain);
            Assert.Equal(plain, File.ReadAllBytes(Path.Combine(store.PendingDirectory, b)));
            Assert.Empty(Directory.EnumerateFiles(store.PendingDirectory, "*.tmp"));
        }
        finally
        {
            store.Dispose();
        }
    }

    [Fact]
    public void The_upload_buffer_pool_hands_out_aligned_buffers_cleared_on_return()
    {
        var pool = new UploadBufferPool();
        var buffer = pool.Rent(5000);
        Assert.Equal(0, System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(buffer.Array!, buffer.Offset) % DirectIo.Alignment);
        buffer.AsSpan().Fill(9);
        pool.Return(buffer, 5000);
        var again = pool.Rent(4000);
        Assert.Same(buffer.Array, again.Array);
        Assert.All(again.AsSpan(0, 5000).ToArray(), b => Assert.Equal(0, b));

        // A larger request than any free buffer gets a new one.
        pool.Return(again, 0);
        Assert.True(pool.Rent(9000).Count >= 9000);
    }

    /// <summary>Whether this file system takes O_DIRECT at all (tmpfs does not).</summary>
    private bool DirectIoAvailable()
    {
        var probe = new UploadBufferPool().Rent(4096);
        return DirectIo.TryWriteFile(Path.Combine(_folder, "probe"), probe.AsSpan(0, 4096));
    }
}
