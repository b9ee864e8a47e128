using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server.Internal;
using Confide.Testing;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>The server's SecAgg mapping without sockets: set-up failures, duplicates and dropouts.</summary>
public sealed class SecAggRoundHostTests
{
    private static readonly RoundOptions Rounds = new(3, ClientSampling.OfCount(3), TimeSpan.FromSeconds(10), 2, new Aggregation.AggregatorSettings("fedavg"), maxSampleCount: 100);
    private static readonly string[] Ids = ["a", "b", "c"];

    private static (SecAggRoundHost Host, FakeClock Clock, IdentityKeyPair[] Keys) Create(int? neighbours = null)
    {
        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        var random = new SeededRandomSource(4);
        var keys = Ids.Select(_ => IdentityKeyPair.Generate(random)).ToArray();
        var host = new SecAggRoundHost(new SecureAggregationSettings(TimeSpan.FromSeconds(2), neighbours), Rounds, clock, random);
        var ticket = new RoundTicket(0, Ids, clock.UtcNow, clock.UtcNow + Rounds.CollectTimeout);
        host.Begin(ticket, 4, id => keys[Array.IndexOf(Ids, id)].PublicKey.ToBytes(), null);
        return (host, clock, keys);
    }

    [Fact]
    public void A_round_that_cannot_be_set_up_fails_at_the_next_poll_with_the_reason()
    {
        // k = 1 on 3 clients steps down to 0 (odd degree needs an even count): no SecAgg+ graph exists.
        var (host, _, keys) = Create(neighbours: 1);
        var outcome = host.Poll();
        Assert.NotNull(outcome);
        Assert.StartsWith("secure aggregation could not be set up", outcome.FailureReason, StringComparison.Ordinal);
        Assert.Contains("neighbour count", outcome.FailureReason, StringComparison.Ordinal);
        Assert.False(host.IsRunning);
        Assert.Null(host.Poll());

        var clock = new FakeClock(DateTimeOffset.UnixEpoch);
        var missing = new SecAggRoundHost(new SecureAggregationSettings(TimeSpan.FromSeconds(2)), Rounds, clock, new SeededRandomSource(1));
        missing.Begin(new RoundTicket(0, Ids, clock.UtcNow, clock.UtcNow + Rounds.CollectTimeout), 4, id => id == "b" ? null : keys[0].PublicKey.ToBytes(), null);
        Assert.Contains("'b' has no enrolled key", missing.Poll()!.FailureReason, StringComparison.Ordinal);
        foreach (var k in keys)
        {
            k.Dispose();
        }
    }

    [Fact]
    public void A_second_advertisement_is_already_exists_and_a_dropout_is_told_it_dropped()
    {
        var (host, clock, keys) = Create();
        var setup = host.SetupFor("a")!;
        Assert.Equal(3, setup.Roster.Count);
        Assert.Null(host.SetupFor("zed"));
        var options = new SecAggOptions(3, setup.Threshold, setup.Dimension, setup.NeighbourCount, setup.ModulusBits, setup.SignatureQuorum);
        var session = new SecAggSession(setup.SessionId, 0, options, keys.Select(k => k.PublicKey).ToArray(), setup.GraphSeed.Span);
        var clients = Enumerable.Range(0, 3).Select(u => new SecAggClient(session, u, keys[u], new ulong[setup.Dimension], new SeededRandomSource((ulong)u))).ToArray();
        SecAggRequest Advertise(int u)
        {
            var m = clients[u].AdvertiseKeys();
            return new SecAggRequest
            {
                Round = 0,
                SessionId = setup.SessionId,
                AdvertiseKeys = new AdvertiseKeys { EncryptionPublicKey = ByteString.CopyFrom(m.CipherPublicKey), MaskPublicKey = ByteString.CopyFrom(m.MaskPublicKey), Signature = ByteString.CopyFrom(m.Signature) },
            };
        }

        var first = Advertise(0);
        var waiting = host.Handle("a", first);
        Assert.True(waiting.RetryAfterMs > 0);
        Assert.Null(host.SetupFor("a")); // it has advertised: no second TRAIN task
        var again = Assert.Throws<RpcException>(() => host.Handle("a", first));
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);

        // b advertises; c never does. At the deadline c is a dropout of AdvertiseKeys, and the close wakes long polls.
        host.Handle("b", Advertise(1));
        var changed = host.Changed;
        Assert.False(host.Poll() is not null || changed.IsCompleted);
        clock.Advance(Rounds.CollectTimeout + TimeSpan.FromSeconds(1));
        Assert.Null(host.Poll());
        Assert.True(changed.IsCompleted);
        Assert.False(host.Changed.IsCompleted);
        var dropped = Assert.Throws<RpcException>(() => host.Handle("c", new SecAggRequest { Round = 0, SessionId = setup.SessionId, Poll = new SecAggPoll() }));
        Assert.Equal(StatusCode.FailedPrecondition, dropped.StatusCode);
        Assert.Contains("sent nothing for stage AdvertiseKeys", dropped.Status.Detail, StringComparison.Ordinal);
        var keysForA = host.Handle("a", new SecAggRequest { Round = 0, SessionId = setup.SessionId, Poll = new SecAggPoll() });
        Assert.Equal(SecAggResponse.NextOneofCase.KeysBroadcast, keysForA.NextCase);
        Assert.Equal(["b"], keysForA.KeysBroadcast.Peers.Select(p => p.ClientId));

        // a's advertisement delivered again after AdvertiseKeys closed (its answer was lost): a duplicate, which the
        // client turns into a poll, not "late", which it would take for having dropped out. c's, never sent, is late.
        var redelivered = Assert.Throws<RpcException>(() => host.Handle("a", first));
        Assert.Equal(StatusCode.AlreadyExists, redelivered.StatusCode);
        Assert.Contains("already sent its AdvertiseKeys message, and that stage has closed since", redelivered.Status.Detail, StringComparison.Ordinal);
        var late = Assert.Throws<RpcException>(() => host.Handle("c", Advertise(2)));
        Assert.Equal(StatusCode.FailedPrecondition, late.StatusCode);
        var outsider = Assert.Throws<RpcException>(() => host.Handle("zed", new SecAggRequest { Round = 0, SessionId = setup.SessionId, Poll = new SecAggPoll() }));
        Assert.Equal(StatusCode.PermissionDenied, outsider.StatusCode);
        foreach (var c in clients)
        {
            c.Dispose();
        }

        foreach (var k in keys)
        {
            k.Dispose();
        }
    }
}
