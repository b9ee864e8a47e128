using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Server.Tests;

/// <summary>The transfer-path settings are checked where they are set.</summary>
public sealed class TransferOptionsTests
{
    private static ServerOptions Options() => TestFederation.Options("unused", TestFederation.Rounds(rounds: 1, clients: 1));

    [Fact]
    public void Out_of_range_transfer_settings_are_refused_with_the_allowed_range()
    {
        var o = Options();
        Assert.Contains("1 KiB to 1 MiB", Assert.Throws<ArgumentOutOfRangeException>(() => o with { ModelChunkBytes = 100 }).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => o with { ModelChunkBytes = (1 << 20) + 1 });
        Assert.Contains("65,535 bytes to 16 MiB", Assert.Throws<ArgumentOutOfRangeException>(() => o with { Http2StreamWindowBytes = 1000 }).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => o with { Http2StreamWindowBytes = (16 << 20) + 1 });
        Assert.Contains("1 to 10,000", Assert.Throws<ArgumentOutOfRangeException>(() => o with { MaxConcurrentTransfers = 0 }).Message, StringComparison.Ordinal);
        Assert.Contains("0 to 5 minutes", Assert.Throws<ArgumentOutOfRangeException>(() => o with { MaxTaskWait = TimeSpan.FromSeconds(-1) }).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => o with { MaxTaskWait = TimeSpan.FromMinutes(6) });
    }

    [Fact]
    public async Task A_chunk_that_does_not_fit_the_message_limit_is_refused_at_start()
    {
        var o = Options() with { ModelChunkBytes = 1 << 20, MaxMessageBytes = 1 << 20 };
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ConfideServer.StartAsync(o));
        Assert.Contains("does not fit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_keep_chunks_off_the_large_object_heap_and_inside_the_message_limit()
    {
        var o = Options();
        Assert.True(o.ModelChunkBytes < 85_000);
        Assert.True(o.ModelChunkBytes + 1024 <= o.MaxMessageBytes);
        Assert.True(o.MaxConcurrentTransfers >= 1);
        Assert.True(o.MaxTaskWait < o.ConnectedWindow);
    }

    [Fact]
    public async Task A_round_completes_with_one_transfer_at_a_time_and_the_smallest_chunks()
    {
        // Three participants queue for one transfer slot, and the model arrives in many 1 KiB chunks.
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(rounds: 2, clients: 3)) with
        {
            MaxConcurrentTransfers = 1,
            ModelChunkBytes = 1024,
        };
        await using var server = await ConfideServer.StartAsync(options);
        var owned = new List<IDisposable>();
        var participants = new List<FederatedParticipant>();
        for (int i = 0; i < 3; i++)
        {
            var key = IdentityKeyPair.Generate(new SeededRandomSource((ulong)(50 + i)));
            var clientOptions = new FederationClientOptions(server.Address, server.CertificateFingerprint) { CallTimeout = TimeSpan.FromSeconds(10), TransferTimeout = TimeSpan.FromSeconds(20) };
            var client = new FederationClient(clientOptions, key);
            owned.Add(client);
            owned.Add(key);
            await client.EnrollAsync(server.IssueToken());
            participants.Add(new FederatedParticipant(client, new DeterministicTrainer(i), ParticipantProgress.Load(Path.Combine(federation.StateDirectory, $"t{i}.progress"))));
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reasons = await Task.WhenAll(participants.Select(p => Task.Run(() => p.RunAsync(cts.Token))));
        Assert.All(reasons, r => Assert.Equal("rounds-completed", r));
        var rounds = server.Store.ListRounds();
        Assert.Equal(2, rounds.Count);
        Assert.All(rounds, r => Assert.Equal(3, r.Accepted.Count));
        owned.ForEach(o => o.Dispose());
    }
}
