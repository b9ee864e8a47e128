using System.Runtime.InteropServices;
using Confide.Server.Internal;
using Grpc.Health.V1;

namespace Confide.Server.Tests;

/// <summary>Kestrel's connection buffers come from <see cref="LargeBlockMemoryPool"/>, which reuses blocks safely.</summary>
public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void A_block_is_one_full_block_whatever_was_asked()
    {
        using var pool = new LargeBlockMemoryPool();
        using var small = pool.Rent(1);
        using var any = pool.Rent();
        using var full = pool.Rent(LargeBlockMemoryPool.BlockSize);
        Assert.All([small, any, full], b => Assert.Equal(LargeBlockMemoryPool.BlockSize, b.Memory.Length));
        Assert.Equal(LargeBlockMemoryPool.BlockSize, pool.MaxBufferSize);
    }

    [Fact]
    public void More_than_a_block_is_refused_and_so_is_a_disposed_pool()
    {
        var pool = new LargeBlockMemoryPool();
        var tooLarge = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
        Assert.Equal("minBufferSize", tooLarge.ParamName);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Rent(1));
    }

    [Fact]
    public void A_returned_block_is_reused_and_a_second_dispose_does_not_return_it_twice()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent(1);
        byte[] array = ArrayOf(first);
        first.Dispose();
        first.Dispose(); // must not queue the same block twice
        Assert.Equal(1, pool.RetainedBlocks);

        using var again = pool.Rent(1);
        using var other = pool.Rent(1);
        Assert.Same(array, ArrayOf(again));
        Assert.NotSame(array, ArrayOf(other)); // had the block been queued twice, two leases would share it
        Assert.Equal(0, pool.RetainedBlocks);
    }

    [Fact]
    public void At_most_the_retention_limit_of_free_blocks_is_kept()
    {
        using var pool = new LargeBlockMemoryPool();
        var blocks = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetainedBlocks + 10).Select(_ => pool.Rent(1)).ToList();
        blocks.ForEach(b => b.Dispose());
        Assert.Equal(LargeBlockMemoryPool.MaxRetainedBlocks, pool.RetainedBlocks);
    }

    [Fact]
    public async Task The_server_takes_its_connection_buffers_from_the_pool()
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(rounds: 1, clients: 1));
        using var key = Confide.SecureAggregation.IdentityKeyPair.Generate(new Confide.Randomness.SeededRandomSource(5));
        var client = federation.Connect(key);
        var health = new Health.HealthClient(client.Channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.True(server.MemoryPools!.PoolsCreated >= 1, "Kestrel did not ask the server's memory pool factory for a pool.");
    }

    private static byte[] ArrayOf(System.Buffers.IMemoryOwner<byte> block) =>
        MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment) ? segment.Array! : throw new InvalidOperationException("not array-backed");
}
