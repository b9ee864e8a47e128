using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using System.Text;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// The mask pseudorandom generator of secure aggregation (Bonawitz et al., "Practical Secure Aggregation for
/// Privacy-Preserving Machine Learning", CCS 2017, section 4: PRG(b_u) and PRG(s_uv)): it expands a 32-byte
/// seed into a stream of mask words in Z_{2^k} and adds or subtracts them into an accumulator.
/// </summary>
/// <remarks>
/// <para>Construction: key = HKDF-SHA256(ikm = the full 256-bit seed, salt = "Confide/SecAgg/MaskPrg/salt/v1",
/// info = "Confide/SecAgg/MaskPrg/AES-128-CTR/v1", 16 bytes); the stream is AES-128-CTR (NIST SP 800-38A) under
/// that key with a 128-bit big-endian counter starting at zero. Each seed is used for one mask only, so a fixed
/// initial counter is safe. AES-128 rather than AES-256: a 128-bit key is the security level the rest of the
/// protocol offers (X25519), and ten rounds instead of fourteen are 40 % faster.</para>
/// <para>Mask word i is the little-endian word at keystream bytes [8i, 8i + 8) for <see cref="ulong"/>
/// accumulators (or [4i, 4i + 4) for <see cref="uint"/> accumulators), reduced mod 2^k by keeping its low k bits.
/// The two accumulator widths therefore give different masks: every party must use the same one.</para>
/// <para>Hardware AES (AES-NI through <see cref="System.Runtime.Intrinsics.X86.Aes"/>, eight blocks in flight)
/// is used when the CPU has it; otherwise <c>System.Security.Cryptography.Aes.EncryptEcb</c>
/// on counter blocks. Both give the same stream (tested against SP 800-38A F.5.1).</para>
/// <para>Positions are stateless: The <c>firstWord</c> arguments let a caller split one long mask across
/// threads. An instance may be used from several threads at once (the portable fallback serializes its AES calls).</para>
/// </remarks>
public sealed class MaskPrg : IDisposable
{
    /// <summary>The seed length in bytes (256 bits).</summary>
    public const int SeedSize = 32;

    /// <summary>The largest supported modulus exponent k for <see cref="ulong"/> accumulators.</summary>
    public const int MaxModulusBits = 64;

    private const int ChunkBytes = 16384;

    private static readonly byte[] Salt = Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/salt/v1");
    private static readonly byte[] MaskInfo = Encoding.ASCII.GetBytes("Confide/SecAgg/MaskPrg/AES-128-CTR/v1");

    private readonly Aes128Ctr _ctr;

    private MaskPrg(Aes128Ctr ctr) => _ctr = ctr;

    /// <summary>Whether this process uses hardware AES instructions for the stream.</summary>
    public static bool IsHardwareAccelerated => Aes128Ctr.HardwareSupported;

    /// <summary>Which AES implementation this instance uses.</summary>
    internal AesCtrBackend Backend => _ctr.Backend;

    /// <summary>Derives the stream key from <paramref name="seed"/> (exactly <see cref="SeedSize"/> bytes).</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes long.</exception>
    public static MaskPrg FromSeed(ReadOnlySpan<byte> seed) => FromSeed(seed, MaskInfo, AesCtrBackend.Auto);

    /// <summary>The same construction with another HKDF info string (domain separation) or a forced backend.</summary>
    internal static MaskPrg FromSeed(ReadOnlySpan<byte> seed, ReadOnlySpan<byte> info, AesCtrBackend backend)
    {
        if (seed.Length != SeedSize)
        {
            throw new ArgumentException($"A mask seed must be {SeedSize} bytes (256 bits), not {seed.Length} bytes.", nameof(seed));
        }

        Span<byte> key = stackalloc byte[Aes128Ctr.KeySize];
        Span<byte> counter = stackalloc byte[Aes128Ctr.BlockSize];
        counter.Clear();
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, seed, key, Salt, info);
            return new MaskPrg(new Aes128Ctr(key, counter, backend));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Raw AES-128-CTR with a caller-chosen key and initial counter block, for known-answer tests.</summary>
    internal static MaskPrg FromAesKey(ReadOnlySpan<byte> key, ReadOnlySpan<byte> initialCounter, AesCtrBackend backend) =>
        new(new Aes128Ctr(key, initialCounter, backend));

    /// <summary>Adds mask words into <paramref name="accumulator"/>: acc[i] = (acc[i] + mask[firstWord + i]) mod 2^k.</summary>
    /// <param name="accumulator">The vector in Z_{2^k}; every entry is left reduced mod 2^k.</param>
    /// <param name="modulusBits">k, from 1 to 64.</param>
    /// <param name="firstWord">The index of the first mask word to use (for splitting a long mask).</param>
    public void AddMask(Span<ulong> accumulator, int modulusBits, long firstWord = 0) =>
        Apply(accumulator, ModulusMask64(modulusBits), firstWord, subtract: false);

    /// <summary>Subtracts mask words: acc[i] = (acc[i] − mask[firstWord + i]) mod 2^k.</summary>
    public void SubtractMask(Span<ulong> accumulator, int modulusBits, long firstWord = 0) =>
        Apply(accumulator, ModulusMask64(modulusBits), firstWord, subtract: true);

    /// <summary>Adds 32-bit mask words (k from 1 to 32) into <paramref name="accumulator"/>, mod 2^k.</summary>
    public void AddMask(Span<uint> accumulator, int modulusBits, long firstWord = 0) =>
        Apply(accumulator, ModulusMask32(modulusBits), firstWord, subtract: false);

    /// <summary>Subtracts 32-bit mask words (k from 1 to 32) from <paramref name="accumulator"/>, mod 2^k.</summary>
    public void SubtractMask(Span<uint> accumulator, int modulusBits, long firstWord = 0) =>
        Apply(accumulator, ModulusMask32(modulusBits), firstWord, subtract: true);

    /// <summary>Writes raw keystream bytes starting at byte <paramref name="byteOffset"/>.</summary>
    public void Generate(Span<byte> destination, long byteOffset = 0) => _ctr.Generate(byteOffset, destination);

    /// <summary>One-shot: expands <paramref name="seed"/> and adds its mask into <paramref name="accumulator"/> mod 2^k.</summary>
    public static void AddMask(ReadOnlySpan<byte> seed, Span<ulong> accumulator, int modulusBits)
    {
        using var prg = FromSeed(seed);
        prg.AddMask(accumulator, modulusBits);
    }

    /// <summary>One-shot: expands <paramref name="seed"/> and subtracts its mask from <paramref name="accumulator"/> mod 2^k.</summary>
    public static void SubtractMask(ReadOnlySpan<byte> seed, Span<ulong> accumulator, int modulusBits)
    {
        using var prg = FromSeed(seed);
        prg.SubtractMask(accumulator, modulusBits);
    }

    /// <summary>One-shot 32-bit variant of <see cref="AddMask(ReadOnlySpan{byte}, Span{ulong}, int)"/>.</summary>
    public static void AddMask(ReadOnlySpan<byte> seed, Span<uint> accumulator, int modulusBits)
    {
        using var prg = FromSeed(seed);
        prg.AddMask(accumulator, modulusBits);
    }

    /// <summary>One-shot 32-bit variant of <see cref="SubtractMask(ReadOnlySpan{byte}, Span{ulong}, int)"/>.</summary>
    public static void SubtractMask(ReadOnlySpan<byte> seed, Span<uint> accumulator, int modulusBits)
    {
        using var prg = FromSeed(seed);
        prg.SubtractMask(accumulator, modulusBits);
    }

    /// <summary>Zeroes the expanded key.</summary>
    public void Dispose() => _ctr.Dispose();

    /// <inheritdoc/>
    public override string ToString() => "MaskPrg(AES-128-CTR)";

    private static ulong ModulusMask64(int modulusBits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modulusBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(modulusBits, 64);
        return modulusBits == 64 ? ulong.MaxValue : (1UL << modulusBits) - 1;
    }

    private static uint ModulusMask32(int modulusBits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modulusBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(modulusBits, 32);
        return modulusBits == 32 ? uint.MaxValue : (1U << modulusBits) - 1;
    }

    private void Apply<T>(Span<T> accumulator, T mask, long firstWord, bool subtract)
        where T : unmanaged, IBinaryInteger<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstWord);
        int wordSize = Unsafe.SizeOf<T>();
        int wordsPerBlock = Aes128Ctr.BlockSize / wordSize;
        if (_ctr.SupportsFused)
        {
            // Hardware path: the keystream never leaves registers. Words before the first block boundary and
            // after the last one go through the buffered path below.
            int head = (int)Math.Min(accumulator.Length, (wordsPerBlock - (firstWord % wordsPerBlock)) % wordsPerBlock);
            int body = (accumulator.Length - head) / wordsPerBlock * wordsPerBlock;
            if (body > 0)
            {
                ulong firstBlock = (ulong)((firstWord + head) / wordsPerBlock);
                _ctr.ApplyFused(firstBlock, accumulator.Slice(head, body), mask, subtract);
                ApplyBuffered(accumulator[..head], mask, firstWord, subtract);
                ApplyBuffered(accumulator[(head + body)..], mask, firstWord + head + body, subtract);
                return;
            }
        }

        ApplyBuffered(accumulator, mask, firstWord, subtract);
    }

    private void ApplyBuffered<T>(Span<T> accumulator, T mask, long firstWord, bool subtract)
        where T : unmanaged, IBinaryInteger<T>
    {
        if (accumulator.IsEmpty)
        {
            return;
        }

        int wordSize = Unsafe.SizeOf<T>();
        Span<byte> chunk = stackalloc byte[ChunkBytes];
        int wordsPerChunk = ChunkBytes / wordSize;
        long byteOffset = checked(firstWord * wordSize);
        try
        {
            while (!accumulator.IsEmpty)
            {
                int words = Math.Min(wordsPerChunk, accumulator.Length);
                Span<byte> bytes = chunk[..(words * wordSize)];
                _ctr.Generate(byteOffset, bytes);
                ReadOnlySpan<T> stream = MemoryMarshal.Cast<byte, T>(bytes);
                if (subtract)
                {
                    SubtractInto(accumulator[..words], stream, mask);
                }
                else
                {
                    AddInto(accumulator[..words], stream, mask);
                }

                accumulator = accumulator[words..];
                byteOffset += bytes.Length;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(chunk);
        }
    }

    // acc = (acc + s) & mask, wrapping: reducing after the add is the same as reducing s first, mod 2^k.
    private static void AddInto<T>(Span<T> acc, ReadOnlySpan<T> s, T mask)
        where T : unmanaged, IBinaryInteger<T>
    {
        unchecked
        {
            ref T a = ref MemoryMarshal.GetReference(acc);
            ref T b = ref MemoryMarshal.GetReference(s);
            nuint n = (nuint)acc.Length;
            nuint i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<T> m = Vector512.Create(mask);
                for (; i + (nuint)Vector512<T>.Count <= n; i += (nuint)Vector512<T>.Count)
                {
                    ((Vector512.LoadUnsafe(ref a, i) + Vector512.LoadUnsafe(ref b, i)) & m).StoreUnsafe(ref a, i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<T> m = Vector256.Create(mask);
                for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                {
                    ((Vector256.LoadUnsafe(ref a, i) + Vector256.LoadUnsafe(ref b, i)) & m).StoreUnsafe(ref a, i);
                }
            }

            for (; i < n; i++)
            {
                Unsafe.Add(ref a, i) = (Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i)) & mask;
            }
        }
    }

    private static void SubtractInto<T>(Span<T> acc, ReadOnlySpan<T> s, T mask)
        where T : unmanaged, IBinaryInteger<T>
    {
        unchecked
        {
            ref T a = ref MemoryMarshal.GetReference(acc);
            ref T b = ref MemoryMarshal.GetReference(s);
            nuint n = (nuint)acc.Length;
            nuint i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<T> m = Vector512.Create(mask);
                for (; i + (nuint)Vector512<T>.Count <= n; i += (nuint)Vector512<T>.Count)
                {
                    ((Vector512.LoadUnsafe(ref a, i) - Vector512.LoadUnsafe(ref b, i)) & m).StoreUnsafe(ref a, i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<T> m = Vector256.Create(mask);
                for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                {
                    ((Vector256.LoadUnsafe(ref a, i) - Vector256.LoadUnsafe(ref b, i)) & m).StoreUnsafe(ref a, i);
                }
            }

            for (; i < n; i++)
            {
                Unsafe.Add(ref a, i) = (Unsafe.Add(ref a, i) - Unsafe.Add(ref b, i)) & mask;
            }
        }
    }
}
