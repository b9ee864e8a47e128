using BenchmarkDotNet.Attributes;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;
using NSec.Cryptography;

namespace Confide.Benchmarks;

/// <summary>
/// What one secure-aggregation client pays per neighbour (Bonawitz et al. 2017, full graph at n = 500): two X25519
/// agreements (share channel and pairwise seed), two Ed25519 verifications (advertised keys, survivor list), two
/// AES-256-GCM operations, one mask expansion of D = 100,000 32-bit words, and its part of the Shamir splits.
/// NSecAgree shows what an agreement cost before X25519 went straight to libsodium (NSec puts every shared secret in
/// guarded memory: sodium_malloc, mprotect and munmap per call).
/// Run: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*SecAggClientCost*' --job short
/// </summary>
[MemoryDiagnoser]
public class SecAggClientCostBenchmarks
{
    private readonly SecAggContext _context = new(new byte[32], 1);
    private readonly byte[] _shared = new byte[32];
    private readonly byte[] _pairSeed = new byte[32];
    private readonly byte[] _message = new byte[160];
    private readonly byte[] _bundle = new byte[112];
    private readonly byte[] _secret = new byte[32];
    private readonly uint[] _acc32 = new uint[100_000];
    private readonly int[] _holders = Enumerable.Range(1, 500).ToArray();
    private AgreementKeyPair _u = null!;
    private AgreementKeyPair _v = null!;
    private ShareChannel _channel = null!;
    private ShareChannel _peerChannel = null!;
    private byte[] _sealed = null!;
    private IdentityKeyPair _identity = null!;
    private byte[] _signature = null!;
    private ShamirSecretSharing _sharingT250 = null!;
    private SeededRandomSource _random = null!;

    [GlobalSetup]
    public void Setup()
    {
        _random = new SeededRandomSource(7);
        _u = AgreementKeyPair.Generate(_random);
        _v = AgreementKeyPair.Generate(_random);
        _channel = ShareChannel.Establish(_u, 1, _v.PublicKey, 2, _context);
        _peerChannel = ShareChannel.Establish(_v, 2, _u.PublicKey, 1, _context);
        _sealed = _channel.Encrypt(_bundle, _random);
        _identity = IdentityKeyPair.Generate(_random);
        _signature = _identity.Sign("secagg-advertise-keys", _message);
        _sharingT250 = new ShamirSecretSharing(250, _random.Fork(1));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _u.Dispose();
        _v.Dispose();
        _channel.Dispose();
        _peerChannel.Dispose();
        _identity.Dispose();
    }

    /// <summary>X25519 through libsodium directly, the shared secret on the stack.</summary>
    [Benchmark(Baseline = true)]
    public void Agree() => KeyAgreement.Agree(_u, _v.PublicKey, _shared);

    /// <summary>X25519 through NSec's Agree, the shared secret in guarded memory, then disposed.</summary>
    [Benchmark]
    public void NSecAgree()
    {
        using SharedSecret? s = KeyAgreementAlgorithm.X25519.Agree(_u.Key, _v.PublicKey.Key);
    }

    /// <summary>One agreement and both directions' HKDF keys.</summary>
    [Benchmark]
    public void ShareChannelEstablish() => ShareChannel.Establish(_u, 1, _v.PublicKey, 2, _context).Dispose();

    /// <summary>One agreement and HKDF: the pairwise mask seed s_uv.</summary>
    [Benchmark]
    public void PairwiseSeed() => PairwiseMaskSeed.Derive(_u, 1, _v.PublicKey, 2, _context, _pairSeed);

    /// <summary>Ed25519 verification of a purpose-separated signature over 160 bytes (about an AdvertiseKeys payload).</summary>
    [Benchmark]
    public bool Ed25519Verify() => _identity.PublicKey.Verify("secagg-advertise-keys", _message, _signature);

    /// <summary>AES-256-GCM seal of one share bundle under an established channel (key schedule included).</summary>
    [Benchmark]
    public byte[] ShareSeal() => _channel.Encrypt(_bundle, _random);

    /// <summary>AES-256-GCM open of one share bundle under an established channel.</summary>
    [Benchmark]
    public byte[] ShareOpen() => _peerChannel.Decrypt(_sealed);

    /// <summary>One pairwise mask, D = 100,000 32-bit words, from its seed (HKDF, key schedule, 400 kB of keystream).</summary>
    [Benchmark]
    public void MaskAdd32OneShot() => MaskPrg.AddMask(_pairSeed, _acc32.AsSpan(), 32);

    /// <summary>Share a 32-byte secret among 500 holders with t = 250 (a full-graph client does two of these).</summary>
    [Benchmark]
    public ShamirShare[] ShamirSplitT250N500() => _sharingT250.Split(_secret, _holders);
}
