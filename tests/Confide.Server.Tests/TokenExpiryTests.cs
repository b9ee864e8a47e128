using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>Enrollment tokens carry an expiry, stored with their hash; an expired token is refused with a clear message.</summary>
public sealed class TokenExpiryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static byte[] Key(int seed) => IdentityKeyPair.Generate(new SeededRandomSource((ulong)seed)).PublicKey.ToBytes();

    [Fact]
    public void A_token_is_valid_until_its_lifetime_ends_and_refused_from_then_on()
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-token-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var store = StateStore.Open(dir);
            var random = new SeededRandomSource(1);
            string early = store.IssueToken(random, T0, TimeSpan.FromHours(1));
            string late = store.IssueToken(random, T0, TimeSpan.FromHours(1));
            string byDefault = store.IssueToken(random, T0);

            Assert.StartsWith("c-", store.Enroll(early, Key(1), "a", T0 + TimeSpan.FromMinutes(59)));
            var expired = Assert.Throws<EnrollmentException>(() => store.Enroll(late, Key(2), "b", T0 + TimeSpan.FromHours(1)));
            Assert.Contains("expired at 2026-11-25 13:00:00 UTC", expired.Message, StringComparison.Ordinal);

            // The refused token was not consumed and no client was registered.
            Assert.Equal(1, store.CountClients());
            Assert.Throws<EnrollmentException>(() => store.Enroll(late, Key(2), "b", T0 + TimeSpan.FromDays(2)));

            // The default lifetime is 24 h.
            Assert.Throws<EnrollmentException>(() => store.Enroll(byDefault, Key(3), "c", T0 + TimeSpan.FromHours(24)));
            Assert.Equal(TimeSpan.FromHours(24), StateStore.DefaultTokenLifetime);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_token_lifetime_out_of_range_is_refused()
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-token-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var store = StateStore.Open(dir);
            Assert.Throws<ArgumentOutOfRangeException>(() => store.IssueToken(new SeededRandomSource(1), T0, TimeSpan.Zero));
            Assert.Throws<ArgumentOutOfRangeException>(() => store.IssueToken(new SeededRandomSource(1), T0, TimeSpan.FromDays(366)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Enrolling_over_the_wire_with_an_expired_token_is_refused_with_the_reason()
    {
        await using var federation = new TestFederation();
        var clock = new FakeClock(T0);
        await using var server = await ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(1, 1)), clock: clock);
        string shortLived = server.IssueToken(TimeSpan.FromMinutes(10));
        string stillValid = server.IssueToken(TimeSpan.FromMinutes(30));
        clock.Advance(TimeSpan.FromMinutes(10));

        using var key = IdentityKeyPair.Generate(new SeededRandomSource(3));
        using var client = new Client.FederationClient(new Client.FederationClientOptions(server.Address, server.CertificateFingerprint), key);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EnrollAsync(shortLived));
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("expired", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, server.Store.CountClients());

        Assert.StartsWith("c-", await client.EnrollAsync(stillValid));
    }
}
