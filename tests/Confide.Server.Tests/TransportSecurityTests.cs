using System.Net;
using System.Security.Cryptography;
using System.Text;
using Confide.Client;
using Confide.Protocol.Authentication;
using Confide.Randomness;
using Grpc.Core;

namespace Confide.Server.Tests;

public sealed class TransportSecurityTests
{
    [Fact]
    public async Task A_client_refuses_a_server_whose_certificate_does_not_match_the_pin()
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(1, 1));
        using var key = ClientSigningKey.Generate(new SeededRandomSource(5));
        string wrong = new string('0', 64);
        using var client = new FederationClient(new FederationClientOptions(server.Address, wrong) { CallTimeout = TimeSpan.FromSeconds(10) }, key);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.GetStatusAsync());
        Assert.Contains(ex.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        Assert.Contains("certificate was rejected", ex.Status.Detail, StringComparison.OrdinalIgnoreCase);

        using var pinned = new FederationClient(new FederationClientOptions(server.Address, server.CertificateFingerprint), key);
        Assert.Equal("waiting-for-clients", (await pinned.GetStatusAsync()).Stage);
    }

    [Fact]
    public async Task The_certificate_is_made_once_and_kept_across_restarts()
    {
        await using var federation = new TestFederation();
        var first = await federation.StartAsync(TestFederation.Rounds(1, 1));
        string fingerprint = first.CertificateFingerprint!;
        Assert.True(first.CertificateCreated);
        await federation.StopAsync();
        var second = await federation.StartAsync(TestFederation.Rounds(1, 1));
        Assert.False(second.CertificateCreated);
        Assert.Equal(fingerprint, second.CertificateFingerprint);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(federation.StateDirectory, ServerCertificate.FileName)));
        }
    }

    [Fact]
    public async Task Plain_http2_is_allowed_only_on_loopback()
    {
        await using var federation = new TestFederation();
        var options = TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(1, 1), insecure: true) with { ListenAddress = IPAddress.Any };
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ConfideServer.StartAsync(options));
        Assert.Contains("only on a loopback address", ex.Message);
        Assert.Throws<ArgumentException>(() => new FederationClientOptions(new Uri("http://192.0.2.1:7443"), null, insecure: true));
        Assert.Throws<ArgumentException>(() => new FederationClientOptions(new Uri("http://127.0.0.1:7443"), null));
        Assert.Throws<ArgumentException>(() => new FederationClientOptions(new Uri("https://127.0.0.1:7443"), "abc"));

        var server = await federation.StartAsync(TestFederation.Rounds(1, 1), insecure: true);
        Assert.Equal("http", server.Address.Scheme);
        Assert.Null(server.CertificateFingerprint);
        using var key = ClientSigningKey.Generate(new SeededRandomSource(6));
        var client = federation.Connect(key);
        await client.EnrollAsync(server.IssueToken());
        Assert.StartsWith("c-", client.ClientId, StringComparison.Ordinal);
    }

    [Fact]
    public void Enrollment_tokens_are_stored_only_as_hashes()
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-store-" + Guid.NewGuid().ToString("N"));
        try
        {
            string token;
            using (var store = StateStore.Open(dir))
            {
                token = store.IssueToken(CryptoRandomSource.Instance, DateTimeOffset.UtcNow);
                Assert.Equal(43, token.Length);
            }

            byte[] everything = Directory.GetFiles(dir, "state.db*").SelectMany(File.ReadAllBytes).ToArray();
            Assert.Equal(-1, everything.AsSpan().IndexOf(Encoding.UTF8.GetBytes(token)));
            Assert.NotEqual(-1, everything.AsSpan().IndexOf(SHA256.HashData(Encoding.UTF8.GetBytes(token))));

            using var reopened = StateStore.Open(dir);
            using var key = ClientSigningKey.Generate(new SeededRandomSource(8));
            string id = reopened.Enroll(token, key.PublicKey, "x", DateTimeOffset.UtcNow);
            Assert.Equal(key.PublicKey, reopened.FindClientKey(id));
            Assert.Contains("already been used", Assert.Throws<EnrollmentException>(() => reopened.Enroll(token, new byte[32], "y", DateTimeOffset.UtcNow)).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_key_file_is_created_0600_and_a_readable_one_is_refused()
    {
        string dir = Path.Combine(Path.GetTempPath(), "confide-key-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(dir, "client.key");
        try
        {
            byte[] publicKey;
            using (var key = ClientKeyFile.Create(path, CryptoRandomSource.Instance))
            {
                publicKey = key.PublicKey;
            }

            Assert.Equal(32, new FileInfo(path).Length);
            Assert.Throws<IOException>(() => ClientKeyFile.Create(path, CryptoRandomSource.Instance));
            using (var loaded = ClientKeyFile.LoadOrCreate(path, CryptoRandomSource.Instance, out bool created))
            {
                Assert.False(created);
                Assert.Equal(publicKey, loaded.PublicKey);
            }

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
                Assert.Contains("must be 0600", Assert.Throws<InvalidDataException>(() => ClientKeyFile.Load(path)).Message);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Request_signatures_bind_every_field()
    {
        using var key = ClientSigningKey.Generate(new SeededRandomSource(10));
        string body = RequestSignature.BodyHash([1, 2, 3]);
        byte[] message = RequestSignature.CanonicalBytes("/confide.v1.Federation/FetchTask", "c-1", 1000, new string('a', 32), body);
        byte[] signature = key.Sign(message);
        Assert.True(RequestSignature.Verify(key.PublicKey, message, signature));
        string[][] variants =
        [
            ["/confide.v1.Federation/FetchModel", "c-1", "1000", new string('a', 32), body],
            ["/confide.v1.Federation/FetchTask", "c-2", "1000", new string('a', 32), body],
            ["/confide.v1.Federation/FetchTask", "c-1", "1001", new string('a', 32), body],
            ["/confide.v1.Federation/FetchTask", "c-1", "1000", new string('b', 32), body],
            ["/confide.v1.Federation/FetchTask", "c-1", "1000", new string('a', 32), RequestSignature.BodyHash([1, 2, 4])],
        ];
        foreach (var v in variants)
        {
            Assert.False(RequestSignature.Verify(key.PublicKey, RequestSignature.CanonicalBytes(v[0], v[1], long.Parse(v[2], System.Globalization.CultureInfo.InvariantCulture), v[3], v[4]), signature));
        }

        Assert.False(RequestSignature.Verify(new byte[31], message, signature));
        Assert.Throws<ArgumentException>(() => RequestSignature.CanonicalBytes("m", "c-1\nx", 1, "n", "b"));

        var seed = new byte[ClientSigningKey.SeedSize];
        key.ExportSeed(seed);
        using var again = ClientSigningKey.Import(seed);
        Assert.Equal(key.PublicKey, again.PublicKey);
        Assert.DoesNotContain(Convert.ToHexStringLower(seed), again.ToString());
    }
}
