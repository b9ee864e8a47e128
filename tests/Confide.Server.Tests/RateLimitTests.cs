using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server.Internal;
using Confide.Testing;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>Token-bucket rate limits: per client after the signature verifies, per address for unsigned calls.</summary>
public sealed class RateLimitTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_bucket_allows_its_burst_then_refills_at_its_rate_per_key()
    {
        var clock = new FakeClock(T0);
        var limiter = new TokenBucketLimiter(clock, perSecond: 2, burst: 3);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryTake("a", out _));
        }

        Assert.False(limiter.TryTake("a", out var wait));
        Assert.Equal(TimeSpan.FromMilliseconds(500), wait);
        Assert.True(limiter.TryTake("b", out _)); // keys are independent

        clock.Advance(TimeSpan.FromMilliseconds(250));
        Assert.False(limiter.TryTake("a", out wait));
        Assert.Equal(TimeSpan.FromMilliseconds(250), wait);
        clock.Advance(TimeSpan.FromMilliseconds(250));
        Assert.True(limiter.TryTake("a", out _));
        Assert.False(limiter.TryTake("a", out _));

        // A long pause refills to the burst, not beyond.
        clock.Advance(TimeSpan.FromHours(1));
        for (int i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryTake("a", out _));
        }

        Assert.False(limiter.TryTake("a", out _));
    }

    [Fact]
    public void Refilled_buckets_are_dropped_when_many_keys_are_tracked()
    {
        var clock = new FakeClock(T0);
        var limiter = new TokenBucketLimiter(clock, perSecond: 1, burst: 2);
        for (int i = 0; i <= 10_001; i++)
        {
            limiter.TryTake("k" + i, out _);
        }

        Assert.True(limiter.Count > 10_000);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(limiter.TryTake("fresh", out _));
        Assert.Equal(1, limiter.Count);
    }

    [Fact]
    public void Limits_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RateLimitOptions(0, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RateLimitOptions(1, 0, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RateLimitOptions(1, 1, double.NaN, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RateLimitOptions(1, 1, 1, 0));
    }

    [Fact]
    public async Task A_burst_on_loopback_is_cut_at_the_limit_with_resource_exhausted()
    {
        await using var federation = new TestFederation();
        // Refill so slow (one request per 1000 s) that the counts below cannot depend on timing.
        var options = TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(1, 2)) with
        {
            RateLimits = new RateLimitOptions(clientPerSecond: 0.001, clientBurst: 5, addressPerSecond: 0.001, addressBurst: 4),
        };
        await using var server = await ConfideServer.StartAsync(options);
        var clientOptions = new FederationClientOptions(server.Address, server.CertificateFingerprint) { CallTimeout = TimeSpan.FromSeconds(10) };
        using var keyA = IdentityKeyPair.Generate(new SeededRandomSource(1));
        using var keyB = IdentityKeyPair.Generate(new SeededRandomSource(2));
        using var a = new FederationClient(clientOptions, keyA);
        using var b = new FederationClient(clientOptions, keyB);

        // Unsigned calls from this address: two enrollments and two status calls use the burst of 4.
        await a.EnrollAsync(server.IssueToken());
        await b.EnrollAsync(server.IssueToken());
        await a.GetStatusAsync();
        await b.GetStatusAsync();
        var status = await Assert.ThrowsAsync<RpcException>(() => a.GetStatusAsync());
        Assert.Equal(StatusCode.ResourceExhausted, status.StatusCode);
        Assert.Contains("rate limit exceeded for address 127.0.0.1", status.Status.Detail, StringComparison.Ordinal);
        using var keyC = IdentityKeyPair.Generate(new SeededRandomSource(3));
        using var c = new FederationClient(clientOptions, keyC);
        var enroll = await Assert.ThrowsAsync<RpcException>(() => c.EnrollAsync(server.IssueToken()));
        Assert.Equal(StatusCode.ResourceExhausted, enroll.StatusCode);
        Assert.Equal(2, server.Store.CountClients());

        // Requests that claim A's id but do not verify are refused before A's budget is charged (they are charged to
        // the address's failed-authentication budget instead).
        using var forger = new FederationClient(clientOptions, keyC, a.ClientId);
        for (int i = 0; i < 3; i++)
        {
            var forged = await Assert.ThrowsAsync<RpcException>(() => forger.FetchTaskAsync(-1));
            Assert.Equal(StatusCode.Unauthenticated, forged.StatusCode);
        }

        // A's signed burst: 5 pass, the rest are refused; B is not affected.
        int passed = 0;
        var refusals = new List<RpcException>();
        for (int i = 0; i < 8; i++)
        {
            try
            {
                await a.FetchTaskAsync(-1);
                passed++;
            }
            catch (RpcException ex)
            {
                refusals.Add(ex);
            }
        }

        Assert.Equal(5, passed);
        Assert.Equal(3, refusals.Count);
        Assert.All(refusals, ex =>
        {
            Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
            Assert.Contains($"rate limit exceeded for client '{a.ClientId}'", ex.Status.Detail, StringComparison.Ordinal);
            Assert.Contains("retry in", ex.Status.Detail, StringComparison.Ordinal);
        });
        await b.FetchTaskAsync(-1);

        // Failed authentications are charged to the address (burst 4; 3 used above): one more, then forged requests
        // are refused before their signature is checked, with everyone else signing from that address.
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => forger.FetchTaskAsync(-1))).StatusCode);
        var cut = await Assert.ThrowsAsync<RpcException>(() => forger.FetchTaskAsync(-1));
        Assert.Equal(StatusCode.ResourceExhausted, cut.StatusCode);
        Assert.Contains("failed authentication", cut.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.ResourceExhausted, (await Assert.ThrowsAsync<RpcException>(() => b.FetchTaskAsync(-1))).StatusCode);
    }
}
