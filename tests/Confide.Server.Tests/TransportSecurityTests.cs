using System.Net;
using System.Security.Cryptography;
using System.Text;
using Confide.Client;
using Confide.Protocol.Authentication;
using Confide.Randomness;
using Confide.SecureAggregation;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

public sealed class TransportSecurityTests
{
    [Fact]
    public async Task A_client_refuses_a_server_whose_certificate_does_not_match_the_pin()
    {
        await using var federation = new TestFederation();
        var server = await federation.StartAsync(TestFederation.Rounds(1, 1));
        using var key = IdentityKeyPair.Generate(new SeededRandomSource(5));
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
        using var key = IdentityKeyPair.Generate(new SeededRandomSource(6));
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
            using var key = IdentityKeyPair.Generate(new SeededRandomSource(8));
            string id = reopened.Enroll(token, key.PublicKey.ToBytes(), "x", DateTimeOffset.UtcNow);
            Assert.Equal(key.PublicKey.ToBytes(), reopened.FindClientKey(id));
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
            IdentityPublicKey publicKey;
            using (var key = ClientKeyFile.Create(path, CryptoRandomSource.Instance))
            {
                publicKey = key.PublicKey;
            }

            // The file holds exactly the 32-byte private seed, so a client in another language can read it.
            byte[] fileSeed = File.ReadAllBytes(path);
            using (var fromSeed = IdentityKeyPair.ImportPrivateSeed(fileSeed))
            {
                Assert.Equal(publicKey, fromSeed.PublicKey);
            }

            CryptographicOperations.ZeroMemory(fileSeed);

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
        using var key = IdentityKeyPair.Generate(new SeededRandomSource(10));
        byte[] publicKey = key.PublicKey.ToBytes();
        string body = RequestSignature.BodyHash([1, 2, 3]);
        const string method = "/confide.v1.Federation/FetchTask";
        string nonce = new('a', 32);
        byte[] signature = RequestSignature.SignRequest(key, method, "c-1", 1000, nonce, body);
        Assert.True(RequestSignature.VerifyRequest(publicKey, method, "c-1", 1000, nonce, body, signature));
        Assert.False(RequestSignature.VerifyRequest(publicKey, "/confide.v1.Federation/FetchModel", "c-1", 1000, nonce, body, signature));
        Assert.False(RequestSignature.VerifyRequest(publicKey, method, "c-2", 1000, nonce, body, signature));
        Assert.False(RequestSignature.VerifyRequest(publicKey, method, "c-1", 1001, nonce, body, signature));
        Assert.False(RequestSignature.VerifyRequest(publicKey, method, "c-1", 1000, new string('b', 32), body, signature));
        Assert.False(RequestSignature.VerifyRequest(publicKey, method, "c-1", 1000, nonce, RequestSignature.BodyHash([1, 2, 4]), signature));
        Assert.False(RequestSignature.VerifyRequest(new byte[31], method, "c-1", 1000, nonce, body, signature));
        Assert.False(RequestSignature.VerifyRequest(publicKey, method, "c-1", 1000, nonce, body, signature.AsSpan(0, 63)));
        Assert.Throws<ArgumentException>(() => RequestSignature.SignRequest(key, "m", "c-1\nx", 1, "n", "b"));

        // An enrollment proof is not a request signature, and the reverse: the labels separate the two.
        byte[] proof = RequestSignature.SignEnrollmentProof(key, "token-1");
        Assert.True(RequestSignature.VerifyEnrollmentProof(publicKey, "token-1", proof));
        Assert.False(RequestSignature.VerifyEnrollmentProof(publicKey, "token-2", proof));
        Assert.False(RequestSignature.VerifyRequest(publicKey, method, "c-1", 1000, nonce, body, proof));
    }

    [Fact]
    public void The_published_request_signature_vector_matches_an_independent_Ed25519()
    {
        // docs/deployment.md, "Clients in other languages". The expected bytes came from Python's protobuf and
        // cryptography (OpenSSL's Ed25519), not from this code, so this checks the two implementations against each
        // other; clients/python/interop_check.py asserts the same vector on the Python side.
        byte[] seed = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        using var key = IdentityKeyPair.ImportPrivateSeed(seed);
        Assert.Equal("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", Convert.ToHexStringLower(key.PublicKey.ToBytes()));

        byte[] body = new Confide.Wire.V1.FetchTaskRequest { LastRound = -1, WaitMs = 5000 }.ToByteArray();
        Assert.Equal("08ffffffffffffffffff01108827", Convert.ToHexStringLower(body));
        string bodyHash = RequestSignature.BodyHash(body);
        Assert.Equal("0a1086aec102e8a0c9e9c2432c615b77d8e4c17cf80e840ff6b54c3b40aa500a", bodyHash);

        string nonce = Convert.ToHexStringLower(Enumerable.Range(0, 16).Select(i => (byte)i).ToArray());
        byte[] signature = RequestSignature.SignRequest(key, "/confide.v1.Federation/FetchTask", "c-0123456789abcdef", 1767225600000, nonce, bodyHash);
        Assert.Equal(
            "968e72e11ac6d45c178b6d33f4e18ec5cc64d956587dc2515acc235d6731d6e1f63fa0a6e521cba448fb949ced78627aad808ae24e1f3d30ff7ead5f2fb8fe0e",
            Convert.ToHexStringLower(signature));
    }

    [Fact]
    public void Request_signatures_are_plain_Ed25519_over_the_bytes_the_proto_documents()
    {
        // What a client in another language does: Ed25519 over the canonical text, with no extra framing.
        using var key = IdentityKeyPair.Generate(new SeededRandomSource(11));
        var nsecKey = NSec.Cryptography.PublicKey.Import(NSec.Cryptography.SignatureAlgorithm.Ed25519, key.PublicKey.ToBytes(), NSec.Cryptography.KeyBlobFormat.RawPublicKey);
        string body = RequestSignature.BodyHash([9]);
        byte[] signature = RequestSignature.SignRequest(key, "/confide.v1.Federation/FetchTask", "c-7", 42, new string('c', 32), body);
        byte[] canonical = RequestSignature.CanonicalBytes("/confide.v1.Federation/FetchTask", "c-7", 42, new string('c', 32), body);
        Assert.Equal(Encoding.UTF8.GetBytes($"confide.v1/request\n/confide.v1.Federation/FetchTask\nc-7\n42\n{new string('c', 32)}\n{body}"), canonical);
        Assert.True(NSec.Cryptography.SignatureAlgorithm.Ed25519.Verify(nsecKey, canonical, signature));

        byte[] proof = RequestSignature.SignEnrollmentProof(key, "tok");
        byte[] proofBytes = RequestSignature.EnrollmentProofBytes("tok", key.PublicKey.ToBytes());
        Assert.Equal(Encoding.UTF8.GetBytes($"confide.v1/enroll\ntok\n{Convert.ToHexStringLower(key.PublicKey.ToBytes())}"), proofBytes);
        Assert.True(NSec.Cryptography.SignatureAlgorithm.Ed25519.Verify(nsecKey, proofBytes, proof));
    }
}
