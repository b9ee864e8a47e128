using System.Text;
using BenchmarkDotNet.Attributes;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;

namespace Confide.Benchmarks;

/// <summary>
/// The secure-aggregation primitives at the sizes of the target (D = 100,000, 500 clients, SecAgg+ k = 18).
/// Mask expansion throughput in GB/s is 8·D bytes (ulong) or 4·D bytes (uint) divided by the mean time.
/// Run: dotnet run -c Release --project bench/Confide.Benchmarks -- --filter '*SecAggPrimitive*' --job short
/// </summary>
[MemoryDiagnoser]
public class SecAggPrimitiveBenchmarks
{
    private const int Dimension = 100_000;

    private readonly ulong[] _acc64 = new ulong[Dimension];
    private readonly uint[] _acc32 = new uint[Dimension];
    private readonly byte[] _keystream = new byte[8 * Dimension];
    private readonly byte[] _seed = new byte[32];
    private readonly SecAggContext _context = new(new byte[32], 1);
    private readonly byte[] _sharePlaintext = new byte[2 * 48];
    private MaskPrg _prg = null!;
    private MaskPrg _portable = null!;
    private ShamirSecretSharing _sharingT9 = null!;
    private ShamirSecretSharing _sharingT250 = null!;
    private ShamirShare[] _shares251 = null!;
    private AgreementKeyPair _u = null!;
    private AgreementKeyPair _v = null!;
    private byte[] _sealed = null!;
    private readonly byte[] _pairSeed = new byte[32];
    private readonly int[] _neighbourXs = Enumerable.Range(1, 18).ToArray();

    [GlobalSetup]
    public void Setup()
    {
        var rng = new SeededRandomSource(1);
        rng.NextBytes(_seed);
        _prg = MaskPrg.FromSeed(_seed);
        _portable = MaskPrg.FromSeed(_seed, Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/AES-128-CTR/v1"), AesCtrBackend.Portable);
        _sharingT9 = new ShamirSecretSharing(9, rng.Fork(1));
        _sharingT250 = new ShamirSecretSharing(250, rng.Fork(2));
        _shares251 = _sharingT250.Split(_seed, 251);
        _u = AgreementKeyPair.Generate(rng);
        _v = AgreementKeyPair.Generate(rng);
        _sealed = ShareEncryption.Encrypt(_u, 1, _v.PublicKey, 2, _context, _sharePlaintext, rng);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _prg.Dispose();
        _portable.Dispose();
        _u.Dispose();
        _v.Dispose();
    }

    /// <summary>Add one mask of D ulong words (800 kB of keystream), AES-NI with the add fused.</summary>
    [Benchmark(Baseline = true)]
    public void MaskAdd64() => _prg.AddMask(_acc64, 32);

    /// <summary>The same with key derivation (HKDF + key schedule) per call, as the protocol uses it.</summary>
    [Benchmark]
    public void MaskAdd64OneShot() => MaskPrg.AddMask(_seed, _acc64.AsSpan(), 32);

    /// <summary>Add one mask of D uint words (400 kB of keystream).</summary>
    [Benchmark]
    public void MaskAdd32() => _prg.AddMask(_acc32, 32);

    /// <summary>Raw keystream, 800 kB.</summary>
    [Benchmark]
    public void Keystream() => _prg.Generate(_keystream);

    /// <summary>The portable fallback (Aes.EncryptEcb on counter blocks, then a vector add), 800 kB.</summary>
    [Benchmark]
    public void MaskAdd64Portable() => _portable.AddMask(_acc64, 32);

    /// <summary>Share a 32-byte seed among 18 neighbours, t = 9 (SecAgg+ at n = 500).</summary>
    [Benchmark]
    public ShamirShare[] ShamirSplitK18T9() => _sharingT9.Split(_seed, _neighbourXs);

    /// <summary>Reconstruct a 32-byte seed from 251 shares with t = 250 (full graph), Lagrange basis cached.</summary>
    [Benchmark]
    public byte[] ShamirReconstructT250() => _sharingT250.Reconstruct(_shares251);

    /// <summary>X25519 + HKDF: one pairwise mask seed.</summary>
    [Benchmark]
    public void PairwiseSeed() => PairwiseMaskSeed.Derive(_u, 1, _v.PublicKey, 2, _context, _pairSeed);

    /// <summary>X25519 + HKDF + AES-256-GCM open of one 96-byte share message.</summary>
    [Benchmark]
    public byte[] ShareDecrypt() => ShareEncryption.Decrypt(_v, 2, _u.PublicKey, 1, _context, _sealed);
}
