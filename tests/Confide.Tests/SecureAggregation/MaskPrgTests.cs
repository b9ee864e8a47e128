using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;
using CsCheck;

namespace Confide.Tests.SecureAggregation;

public sealed class MaskPrgTests
{
    // NIST SP 800-38A, appendix F.5.1, CTR-AES128.Encrypt.
    private static readonly byte[] NistKey = Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c");
    private static readonly byte[] NistCounter = Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    private static readonly byte[] NistOutputBlocks = Convert.FromHexString(
        "ec8cdf7398607cb0f2d21675ea9ea1e4" + "362b7c3c6773516318a077d7fc5073ae" +
        "6a2cc3787889374fbeb4c81b17ba6c44" + "e89c399ff0f198c6d40a31db156cabfe");
    private static readonly byte[] NistPlaintext = Convert.FromHexString(
        "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
        "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710");
    private static readonly byte[] NistCiphertext = Convert.FromHexString(
        "874d6191b620e3261bef6864990db6ce" + "9806f66b7970fdff8617187bb9fffdff" +
        "5ae4df3edbd5d35e5b4f09020db03eab" + "1e031dda2fbe03d1792170a0f3009cee");

    // Backend names, not the internal enum, so that the theory methods can stay public.
    public static TheoryData<string> Backends()
    {
        var data = new TheoryData<string> { nameof(AesCtrBackend.Portable) };
        if (System.Runtime.Intrinsics.X86.Aes.IsSupported)
        {
            data.Add(nameof(AesCtrBackend.Intrinsics));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void KeystreamMatchesNistSp80038aF51(string backendName)
    {
        var backend = Enum.Parse<AesCtrBackend>(backendName);
        using var prg = MaskPrg.FromAesKey(NistKey, NistCounter, backend);
        Assert.Equal(backend, prg.Backend);
        var stream = new byte[64];
        prg.Generate(stream);
        Assert.Equal(Convert.ToHexString(NistOutputBlocks), Convert.ToHexString(stream));

        var ciphertext = new byte[64];
        for (int i = 0; i < 64; i++)
        {
            ciphertext[i] = (byte)(NistPlaintext[i] ^ stream[i]);
        }

        Assert.Equal(NistCiphertext, ciphertext);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void KeystreamMatchesNistVectorsInsideALongPipelinedRun(string backendName)
    {
        var backend = Enum.Parse<AesCtrBackend>(backendName);
        // 200 bytes: the first eight blocks go through the eight-wide pipeline, the rest through the tail loop.
        using var prg = MaskPrg.FromAesKey(NistKey, NistCounter, backend);
        var stream = new byte[200];
        prg.Generate(stream);
        Assert.Equal(NistOutputBlocks, stream[..64]);

        using var bcl = Aes.Create();
        bcl.Key = NistKey;
        var counter = new byte[16];
        NistCounter.CopyTo(counter, 0);
        for (int block = 0; block < 13; block++)
        {
            var expected = bcl.EncryptEcb(counter, PaddingMode.None);
            int length = Math.Min(16, 200 - (16 * block));
            Assert.Equal(expected[..length], stream.AsSpan(16 * block, length).ToArray());
            Increment(counter);
        }
    }

    [Fact]
    public void IntrinsicAndPortablePathsGiveIdenticalStreams()
    {
        if (!System.Runtime.Intrinsics.X86.Aes.IsSupported)
        {
            return;
        }

        // Counters chosen to cross the 64-bit and the 128-bit carry inside a run, plus random ones.
        var gen = Gen.Select(
            Gen.OneOf(
                Gen.Const("00000000000000000000000000000000"),
                Gen.Const("0000000000000000fffffffffffffffa"),
                Gen.Const("fffffffffffffffffffffffffffffff3"),
                Gen.Byte.Array[16].Select(Convert.ToHexString)),
            Gen.Byte.Array[16],
            Gen.Int[0, 600],
            Gen.Int[0, 100]);
        gen.Sample((counterHex, key, length, offset) =>
        {
            byte[] counter = Convert.FromHexString(counterHex);
            using var fast = MaskPrg.FromAesKey(key, counter, AesCtrBackend.Intrinsics);
            using var slow = MaskPrg.FromAesKey(key, counter, AesCtrBackend.Portable);
            var a = new byte[length];
            var b = new byte[length];
            fast.Generate(a, offset);
            slow.Generate(b, offset);
            Assert.Equal(b, a);
        }, iter: 300);
    }

    [Fact]
    public void StreamWrapsModulo2To128LikeThePortableReference()
    {
        byte[] counter = Convert.FromHexString("ffffffffffffffffffffffffffffffff");
        using var prg = MaskPrg.FromAesKey(NistKey, counter, AesCtrBackend.Auto);
        var stream = new byte[32];
        prg.Generate(stream);
        using var bcl = Aes.Create();
        bcl.Key = NistKey;
        Assert.Equal(bcl.EncryptEcb(counter, PaddingMode.None), stream[..16]);
        Assert.Equal(bcl.EncryptEcb(new byte[16], PaddingMode.None), stream[16..]);
    }

    [Fact]
    public void GeneratingAtAnOffsetGivesTheSameBytesAsTheFullStream()
    {
        var seed = Seed(3);
        using var prg = MaskPrg.FromSeed(seed);
        var full = new byte[5000];
        prg.Generate(full);
        foreach (var (offset, length) in new[] { (0, 1), (1, 15), (7, 300), (16, 128), (129, 2000), (4999, 1) })
        {
            var part = new byte[length];
            prg.Generate(part, offset);
            Assert.Equal(full.AsSpan(offset, length).ToArray(), part);
        }
    }

    [Fact]
    public void SeedIsExpandedThroughTheDocumentedHkdfConstruction()
    {
        var seed = Seed(11);
        var key = new byte[16];
        HKDF.DeriveKey(
            HashAlgorithmName.SHA256, seed, key,
            Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/salt/v1"),
            Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/AES-128-CTR/v1"));
        using var bcl = Aes.Create();
        bcl.Key = key;
        var counters = new byte[48];
        counters[15] = 0;
        counters[31] = 1;
        counters[47] = 2;
        var expected = bcl.EncryptEcb(counters, PaddingMode.None);

        using var prg = MaskPrg.FromSeed(seed);
        var stream = new byte[48];
        prg.Generate(stream);
        Assert.Equal(expected, stream);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(13)]
    [InlineData(32)]
    [InlineData(61)]
    [InlineData(62)]
    [InlineData(64)]
    public void AddedMaskIsTheLittleEndianStreamWordReducedMod2ToK(int k)
    {
        var seed = Seed(k);
        var rng = new SeededRandomSource(99);
        ulong modMask = k == 64 ? ulong.MaxValue : (1UL << k) - 1;
        var acc = new ulong[1027];
        for (int i = 0; i < acc.Length; i++)
        {
            acc[i] = rng.NextUInt64() & modMask;
        }

        var original = (ulong[])acc.Clone();
        using var prg = MaskPrg.FromSeed(seed);
        var stream = new byte[acc.Length * 8];
        prg.Generate(stream);
        prg.AddMask(acc, k);
        for (int i = 0; i < acc.Length; i++)
        {
            ulong word = BinaryPrimitives.ReadUInt64LittleEndian(stream.AsSpan(8 * i));
            Assert.Equal(unchecked(original[i] + word) & modMask, acc[i]);
        }

        prg.SubtractMask(acc, k);
        Assert.Equal(original, acc);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(32)]
    public void ThirtyTwoBitMasksUseFourByteWords(int k)
    {
        var seed = Seed(100 + k);
        uint modMask = k == 32 ? uint.MaxValue : (1U << k) - 1;
        var acc = new uint[2053];
        for (int i = 0; i < acc.Length; i++)
        {
            acc[i] = unchecked((uint)i * 2654435761U) & modMask;
        }

        var original = (uint[])acc.Clone();
        var stream = new byte[acc.Length * 4];
        using (var prg = MaskPrg.FromSeed(seed))
        {
            prg.Generate(stream);
        }

        MaskPrg.AddMask(seed, acc.AsSpan(), k);
        for (int i = 0; i < acc.Length; i++)
        {
            uint word = BinaryPrimitives.ReadUInt32LittleEndian(stream.AsSpan(4 * i));
            Assert.Equal(unchecked(original[i] + word) & modMask, acc[i]);
        }

        MaskPrg.SubtractMask(seed, acc.AsSpan(), k);
        Assert.Equal(original, acc);
    }

    [Fact]
    public void AMaskSplitAcrossCallsEqualsTheWholeMask()
    {
        var seed = Seed(5);
        var whole = new ulong[10_001];
        MaskPrg.AddMask(seed, whole.AsSpan(), 62);
        var split = new ulong[10_001];
        using var prg = MaskPrg.FromSeed(seed);
        prg.AddMask(split.AsSpan(0, 3333), 62, firstWord: 0);
        prg.AddMask(split.AsSpan(3333, 5001), 62, firstWord: 3333);
        prg.AddMask(split.AsSpan(8334), 62, firstWord: 8334);
        Assert.Equal(whole, split);
    }

    [Fact]
    public void FusedHardwarePathAndBufferedPortablePathAddTheSameMasks()
    {
        var seed = Seed(77);
        var info = Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/AES-128-CTR/v1");
        using var auto = MaskPrg.FromSeed(seed);
        using var portable = MaskPrg.FromSeed(seed, info, AesCtrBackend.Portable);
        foreach (var (length, first) in new[] { (1, 0L), (3, 1L), (17, 3L), (1000, 0L), (4097, 5L), (9999, 12345L) })
        {
            var a64 = new ulong[length];
            var b64 = new ulong[length];
            auto.AddMask(a64, 61, first);
            portable.AddMask(b64, 61, first);
            Assert.Equal(b64, a64);
            auto.SubtractMask(a64, 64, first);
            portable.SubtractMask(b64, 64, first);
            Assert.Equal(b64, a64);

            var a32 = new uint[length];
            var b32 = new uint[length];
            auto.AddMask(a32, 32, first);
            portable.AddMask(b32, 32, first);
            Assert.Equal(b32, a32);
            auto.SubtractMask(a32, 20, first);
            portable.SubtractMask(b32, 20, first);
            Assert.Equal(b32, a32);
        }
    }

    [Fact]
    public void AThirtyTwoBitMaskSplitAtUnalignedWordsEqualsTheWholeMask()
    {
        var seed = Seed(6);
        var whole = new uint[3001];
        MaskPrg.AddMask(seed, whole.AsSpan(), 32);
        using var prg = MaskPrg.FromSeed(seed);
        var split = new uint[3001];
        int[] cuts = [0, 1, 3, 6, 7, 1001, 2002, 2999, 3001];
        for (int c = 0; c + 1 < cuts.Length; c++)
        {
            prg.AddMask(split.AsSpan(cuts[c], cuts[c + 1] - cuts[c]), 32, cuts[c]);
        }

        Assert.Equal(whole, split);
    }

    [Fact]
    public void OneInstanceMayExpandPartsOfAMaskOnSeveralThreads()
    {
        var seed = Seed(31);
        var whole = new ulong[40_000];
        MaskPrg.AddMask(seed, whole.AsSpan(), 32);
        var info = Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/AES-128-CTR/v1");
        foreach (var backend in new[] { AesCtrBackend.Auto, AesCtrBackend.Portable })
        {
            using var prg = MaskPrg.FromSeed(seed, info, backend);
            var parallel = new ulong[whole.Length];
            const int parts = 8;
            int size = whole.Length / parts;
            Parallel.For(0, parts, p => prg.AddMask(parallel.AsSpan(p * size, size), 32, firstWord: (long)p * size));
            Assert.Equal(whole, parallel);
        }
    }

    [Fact]
    public void PairwiseMasksCancelMod2ToK()
    {
        // u adds PRG(s_uv), v subtracts it: the sum of the two masked vectors is the sum of the inputs.
        var s = Seed(21);
        var xu = new ulong[777];
        var xv = new ulong[777];
        var rng = new SeededRandomSource(4);
        for (int i = 0; i < xu.Length; i++)
        {
            xu[i] = rng.NextUInt64() >> 40;
            xv[i] = rng.NextUInt64() >> 40;
        }

        var yu = (ulong[])xu.Clone();
        var yv = (ulong[])xv.Clone();
        MaskPrg.AddMask(s, yu.AsSpan(), 32);
        MaskPrg.SubtractMask(s, yv.AsSpan(), 32);
        Assert.NotEqual(xu, yu);
        for (int i = 0; i < xu.Length; i++)
        {
            Assert.Equal((xu[i] + xv[i]) & 0xFFFF_FFFFUL, (yu[i] + yv[i]) & 0xFFFF_FFFFUL);
        }
    }

    [Fact]
    public void KeystreamBytesAreUniformByChiSquare()
    {
        using var prg = MaskPrg.FromSeed(Seed(8));
        var stream = new byte[1 << 20];
        prg.Generate(stream);
        var counts = new long[256];
        foreach (byte b in stream)
        {
            counts[b]++;
        }

        double expected = stream.Length / 256.0;
        double chi2 = counts.Sum(c => (c - expected) * (c - expected) / expected);
        // 255 degrees of freedom: the 0.9999 quantile is about 347.
        Assert.True(chi2 < 347, $"chi-square {chi2:F1} over 255 degrees of freedom");
    }

    [Fact]
    public void DifferentSeedsGiveDifferentStreams()
    {
        var a = new byte[64];
        var b = new byte[64];
        using (var p = MaskPrg.FromSeed(Seed(1)))
        {
            p.Generate(a);
        }

        var seed = Seed(1);
        seed[31] ^= 1;
        using (var p = MaskPrg.FromSeed(seed))
        {
            p.Generate(b);
        }

        Assert.NotEqual(a, b);
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => MaskPrg.FromSeed(new byte[4]));
        Assert.Contains("32 bytes", ex.Message, StringComparison.Ordinal);
        using var prg = MaskPrg.FromSeed(Seed(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => prg.AddMask(new ulong[4], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => prg.AddMask(new ulong[4], 65));
        Assert.Throws<ArgumentOutOfRangeException>(() => prg.AddMask(new uint[4], 33));
        Assert.Throws<ArgumentOutOfRangeException>(() => prg.AddMask(new ulong[4], 32, firstWord: -1));
        prg.Dispose();
        Assert.Throws<ObjectDisposedException>(() => prg.AddMask(new ulong[4], 32));
        Assert.DoesNotContain("key", prg.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] Seed(int i)
    {
        var seed = new byte[32];
        new SeededRandomSource((ulong)i).NextBytes(seed);
        return seed;
    }

    private static void Increment(byte[] counter)
    {
        for (int i = 15; i >= 0; i--)
        {
            if (unchecked(++counter[i]) != 0)
            {
                break;
            }
        }
    }
}
