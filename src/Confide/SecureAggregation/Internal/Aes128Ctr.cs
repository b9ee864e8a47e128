using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using AesNi = System.Runtime.Intrinsics.X86.Aes;
using BclAes = System.Security.Cryptography.Aes;

namespace Confide.SecureAggregation.Internal;

/// <summary>
/// AES-128 in counter mode (NIST SP 800-38A, section 6.5) with a 128-bit big-endian counter that
/// increments over the whole block, exactly as in the standard's F.5 vectors. Stateless: any byte
/// position of the keystream can be produced directly, so callers may split work across threads.
/// </summary>
internal sealed class Aes128Ctr : IDisposable
{
    public const int KeySize = 16;
    public const int BlockSize = 16;

    // Eleven round keys of 16 bytes each, only for the intrinsics path.
    private readonly byte[]? _roundKeys;
    private readonly BclAes? _portable;
    private readonly ulong _counterHigh;
    private readonly ulong _counterLow;
    private bool _disposed;

    public Aes128Ctr(ReadOnlySpan<byte> key, ReadOnlySpan<byte> initialCounter, AesCtrBackend backend)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"AES-128 needs a {KeySize}-byte key, not {key.Length} bytes.", nameof(key));
        }

        if (initialCounter.Length != BlockSize)
        {
            throw new ArgumentException($"The initial counter block must be {BlockSize} bytes, not {initialCounter.Length}.", nameof(initialCounter));
        }

        if (backend == AesCtrBackend.Intrinsics && !AesNi.IsSupported)
        {
            throw new PlatformNotSupportedException("This CPU has no AES instructions; use the portable backend.");
        }

        _counterHigh = BinaryPrimitives.ReadUInt64BigEndian(initialCounter);
        _counterLow = BinaryPrimitives.ReadUInt64BigEndian(initialCounter[8..]);
        Backend = backend == AesCtrBackend.Auto ? (AesNi.IsSupported ? AesCtrBackend.Intrinsics : AesCtrBackend.Portable) : backend;
        if (Backend == AesCtrBackend.Intrinsics)
        {
            _roundKeys = GC.AllocateUninitializedArray<byte>(11 * BlockSize, pinned: true);
            ExpandKey(key, _roundKeys);
        }
        else
        {
            _portable = BclAes.Create();
            _portable.Key = key.ToArray();
        }
    }

    public AesCtrBackend Backend { get; }

    /// <summary>Writes keystream bytes [<paramref name="byteOffset"/>, byteOffset + destination.Length) into <paramref name="destination"/>.</summary>
    public void Generate(long byteOffset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ulong block = (ulong)(byteOffset / BlockSize);
        int skip = (int)(byteOffset % BlockSize);
        Span<byte> one = stackalloc byte[BlockSize];
        if (skip != 0)
        {
            GenerateBlocks(block, one);
            int take = Math.Min(BlockSize - skip, destination.Length);
            one.Slice(skip, take).CopyTo(destination);
            destination = destination[take..];
            block++;
        }

        int whole = destination.Length / BlockSize * BlockSize;
        GenerateBlocks(block, destination[..whole]);
        block += (ulong)(whole / BlockSize);
        destination = destination[whole..];
        if (!destination.IsEmpty)
        {
            GenerateBlocks(block, one);
            one[..destination.Length].CopyTo(destination);
        }

        CryptographicOperations.ZeroMemory(one);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_roundKeys is not null)
        {
            CryptographicOperations.ZeroMemory(_roundKeys);
        }

        _portable?.Dispose();
    }

    /// <summary>Fills whole blocks, starting at block index <paramref name="firstBlock"/> after the initial counter.</summary>
    private void GenerateBlocks(ulong firstBlock, Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        unchecked
        {
            // The 128-bit counter for block i is initial + i (mod 2^128).
            ulong low = _counterLow + firstBlock;
            ulong high = _counterHigh + (low < _counterLow ? 1UL : 0UL);
            if (_roundKeys is not null)
            {
                GenerateIntrinsics(_roundKeys, high, low, destination);
            }
            else
            {
                GeneratePortable(_portable!, high, low, destination);
            }
        }
    }

    private static void GeneratePortable(BclAes aes, ulong high, ulong low, Span<byte> destination)
    {
        unchecked
        {
            for (int i = 0; i < destination.Length; i += BlockSize)
            {
                BinaryPrimitives.WriteUInt64BigEndian(destination[i..], high);
                BinaryPrimitives.WriteUInt64BigEndian(destination[(i + 8)..], low);
                low++;
                if (low == 0)
                {
                    high++;
                }
            }
        }

        // ECB over the counter blocks, in place: the same buffer in and out is allowed. The BCL does not promise
        // that one Aes instance may be used from several threads at once, so calls are serialized.
        lock (aes)
        {
            aes.EncryptEcb(destination, destination, PaddingMode.None);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GenerateIntrinsics(byte[] roundKeys, ulong high, ulong low, Span<byte> destination)
    {
        ref byte rk = ref MemoryMarshal.GetArrayDataReference(roundKeys);
        Vector128<byte> k0 = Vector128.LoadUnsafe(ref rk, 0);
        Vector128<byte> k1 = Vector128.LoadUnsafe(ref rk, 16);
        Vector128<byte> k2 = Vector128.LoadUnsafe(ref rk, 32);
        Vector128<byte> k3 = Vector128.LoadUnsafe(ref rk, 48);
        Vector128<byte> k4 = Vector128.LoadUnsafe(ref rk, 64);
        Vector128<byte> k5 = Vector128.LoadUnsafe(ref rk, 80);
        Vector128<byte> k6 = Vector128.LoadUnsafe(ref rk, 96);
        Vector128<byte> k7 = Vector128.LoadUnsafe(ref rk, 112);
        Vector128<byte> k8 = Vector128.LoadUnsafe(ref rk, 128);
        Vector128<byte> k9 = Vector128.LoadUnsafe(ref rk, 144);
        Vector128<byte> k10 = Vector128.LoadUnsafe(ref rk, 160);

        // (low, high) as two little-endian words, byte-reversed, is the big-endian counter block.
        Vector128<byte> reverse = Vector128.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        ref byte dst = ref MemoryMarshal.GetReference(destination);
        nuint length = (nuint)destination.Length;
        nuint offset = 0;
        unchecked
        {
            while (length - offset >= 8 * BlockSize)
            {
                Vector128<byte> b0, b1, b2, b3, b4, b5, b6, b7;
                if (low <= ulong.MaxValue - 8)
                {
                    // The common case: no carry into the high word within these eight blocks.
                    Vector128<ulong> c = Vector128.Create(low, high);
                    b0 = Ssse3.Shuffle(c.AsByte(), reverse);
                    b1 = Ssse3.Shuffle((c + Vector128.Create(1UL, 0UL)).AsByte(), reverse);
                    b2 = Ssse3.Shuffle((c + Vector128.Create(2UL, 0UL)).AsByte(), reverse);
                    b3 = Ssse3.Shuffle((c + Vector128.Create(3UL, 0UL)).AsByte(), reverse);
                    b4 = Ssse3.Shuffle((c + Vector128.Create(4UL, 0UL)).AsByte(), reverse);
                    b5 = Ssse3.Shuffle((c + Vector128.Create(5UL, 0UL)).AsByte(), reverse);
                    b6 = Ssse3.Shuffle((c + Vector128.Create(6UL, 0UL)).AsByte(), reverse);
                    b7 = Ssse3.Shuffle((c + Vector128.Create(7UL, 0UL)).AsByte(), reverse);
                    low += 8;
                }
                else
                {
                    b0 = Counter(ref high, ref low, reverse);
                    b1 = Counter(ref high, ref low, reverse);
                    b2 = Counter(ref high, ref low, reverse);
                    b3 = Counter(ref high, ref low, reverse);
                    b4 = Counter(ref high, ref low, reverse);
                    b5 = Counter(ref high, ref low, reverse);
                    b6 = Counter(ref high, ref low, reverse);
                    b7 = Counter(ref high, ref low, reverse);
                }

                b0 ^= k0; b1 ^= k0; b2 ^= k0; b3 ^= k0; b4 ^= k0; b5 ^= k0; b6 ^= k0; b7 ^= k0;
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k1);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k2);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k3);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k4);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k5);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k6);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k7);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k8);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k9);
                AesNi.EncryptLast(b0, k10).StoreUnsafe(ref dst, offset);
                AesNi.EncryptLast(b1, k10).StoreUnsafe(ref dst, offset + 16);
                AesNi.EncryptLast(b2, k10).StoreUnsafe(ref dst, offset + 32);
                AesNi.EncryptLast(b3, k10).StoreUnsafe(ref dst, offset + 48);
                AesNi.EncryptLast(b4, k10).StoreUnsafe(ref dst, offset + 64);
                AesNi.EncryptLast(b5, k10).StoreUnsafe(ref dst, offset + 80);
                AesNi.EncryptLast(b6, k10).StoreUnsafe(ref dst, offset + 96);
                AesNi.EncryptLast(b7, k10).StoreUnsafe(ref dst, offset + 112);
                offset += 8 * BlockSize;
            }

            while (offset < length)
            {
                Vector128<byte> b = Counter(ref high, ref low, reverse) ^ k0;
                b = AesNi.Encrypt(b, k1);
                b = AesNi.Encrypt(b, k2);
                b = AesNi.Encrypt(b, k3);
                b = AesNi.Encrypt(b, k4);
                b = AesNi.Encrypt(b, k5);
                b = AesNi.Encrypt(b, k6);
                b = AesNi.Encrypt(b, k7);
                b = AesNi.Encrypt(b, k8);
                b = AesNi.Encrypt(b, k9);
                AesNi.EncryptLast(b, k10).StoreUnsafe(ref dst, offset);
                offset += BlockSize;
            }
        }
    }

    /// <summary>Whether <see cref="ApplyFused{T}"/> is available (hardware AES).</summary>
    public bool SupportsFused => _roundKeys is not null;

    /// <summary>
    /// acc = (acc ± keystream) &amp; mask with the keystream kept in registers (no round trip through memory).
    /// <paramref name="accumulator"/> starts at keystream block <paramref name="firstBlock"/>, and its byte
    /// length must be a whole number of blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ApplyFused<T>(ulong firstBlock, Span<T> accumulator, T mask, bool subtract)
        where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_roundKeys is null)
        {
            throw new InvalidOperationException("The fused path needs hardware AES.");
        }

        Span<byte> dstBytes = MemoryMarshal.AsBytes(accumulator);
        if (dstBytes.Length % BlockSize != 0)
        {
            throw new ArgumentException("The accumulator must cover whole AES blocks.", nameof(accumulator));
        }

        ulong low, high;
        unchecked
        {
            low = _counterLow + firstBlock;
            high = _counterHigh + (low < _counterLow ? 1UL : 0UL);
        }

        ref byte rk = ref MemoryMarshal.GetArrayDataReference(_roundKeys);
        Vector128<byte> k0 = Vector128.LoadUnsafe(ref rk, 0);
        Vector128<byte> k1 = Vector128.LoadUnsafe(ref rk, 16);
        Vector128<byte> k2 = Vector128.LoadUnsafe(ref rk, 32);
        Vector128<byte> k3 = Vector128.LoadUnsafe(ref rk, 48);
        Vector128<byte> k4 = Vector128.LoadUnsafe(ref rk, 64);
        Vector128<byte> k5 = Vector128.LoadUnsafe(ref rk, 80);
        Vector128<byte> k6 = Vector128.LoadUnsafe(ref rk, 96);
        Vector128<byte> k7 = Vector128.LoadUnsafe(ref rk, 112);
        Vector128<byte> k8 = Vector128.LoadUnsafe(ref rk, 128);
        Vector128<byte> k9 = Vector128.LoadUnsafe(ref rk, 144);
        Vector128<byte> k10 = Vector128.LoadUnsafe(ref rk, 160);
        Vector128<T> m = Vector128.Create(mask);
        Vector128<byte> reverse = Vector128.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        ref byte dst = ref MemoryMarshal.GetReference(dstBytes);
        nuint length = (nuint)dstBytes.Length;
        nuint offset = 0;
        unchecked
        {
            while (length - offset >= 8 * BlockSize)
            {
                Vector128<byte> b0, b1, b2, b3, b4, b5, b6, b7;
                if (low <= ulong.MaxValue - 8)
                {
                    Vector128<ulong> c = Vector128.Create(low, high);
                    b0 = Ssse3.Shuffle(c.AsByte(), reverse);
                    b1 = Ssse3.Shuffle((c + Vector128.Create(1UL, 0UL)).AsByte(), reverse);
                    b2 = Ssse3.Shuffle((c + Vector128.Create(2UL, 0UL)).AsByte(), reverse);
                    b3 = Ssse3.Shuffle((c + Vector128.Create(3UL, 0UL)).AsByte(), reverse);
                    b4 = Ssse3.Shuffle((c + Vector128.Create(4UL, 0UL)).AsByte(), reverse);
                    b5 = Ssse3.Shuffle((c + Vector128.Create(5UL, 0UL)).AsByte(), reverse);
                    b6 = Ssse3.Shuffle((c + Vector128.Create(6UL, 0UL)).AsByte(), reverse);
                    b7 = Ssse3.Shuffle((c + Vector128.Create(7UL, 0UL)).AsByte(), reverse);
                    low += 8;
                }
                else
                {
                    b0 = Counter(ref high, ref low, reverse);
                    b1 = Counter(ref high, ref low, reverse);
                    b2 = Counter(ref high, ref low, reverse);
                    b3 = Counter(ref high, ref low, reverse);
                    b4 = Counter(ref high, ref low, reverse);
                    b5 = Counter(ref high, ref low, reverse);
                    b6 = Counter(ref high, ref low, reverse);
                    b7 = Counter(ref high, ref low, reverse);
                }

                b0 ^= k0; b1 ^= k0; b2 ^= k0; b3 ^= k0; b4 ^= k0; b5 ^= k0; b6 ^= k0; b7 ^= k0;
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k1);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k2);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k3);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k4);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k5);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k6);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k7);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k8);
                Round(ref b0, ref b1, ref b2, ref b3, ref b4, ref b5, ref b6, ref b7, k9);
                b0 = AesNi.EncryptLast(b0, k10);
                b1 = AesNi.EncryptLast(b1, k10);
                b2 = AesNi.EncryptLast(b2, k10);
                b3 = AesNi.EncryptLast(b3, k10);
                b4 = AesNi.EncryptLast(b4, k10);
                b5 = AesNi.EncryptLast(b5, k10);
                b6 = AesNi.EncryptLast(b6, k10);
                b7 = AesNi.EncryptLast(b7, k10);
                if (subtract)
                {
                    Sub(ref dst, offset, b0, m); Sub(ref dst, offset + 16, b1, m);
                    Sub(ref dst, offset + 32, b2, m); Sub(ref dst, offset + 48, b3, m);
                    Sub(ref dst, offset + 64, b4, m); Sub(ref dst, offset + 80, b5, m);
                    Sub(ref dst, offset + 96, b6, m); Sub(ref dst, offset + 112, b7, m);
                }
                else
                {
                    Add(ref dst, offset, b0, m); Add(ref dst, offset + 16, b1, m);
                    Add(ref dst, offset + 32, b2, m); Add(ref dst, offset + 48, b3, m);
                    Add(ref dst, offset + 64, b4, m); Add(ref dst, offset + 80, b5, m);
                    Add(ref dst, offset + 96, b6, m); Add(ref dst, offset + 112, b7, m);
                }

                offset += 8 * BlockSize;
            }

            while (offset < length)
            {
                Vector128<byte> b = Counter(ref high, ref low, reverse) ^ k0;
                b = AesNi.Encrypt(b, k1);
                b = AesNi.Encrypt(b, k2);
                b = AesNi.Encrypt(b, k3);
                b = AesNi.Encrypt(b, k4);
                b = AesNi.Encrypt(b, k5);
                b = AesNi.Encrypt(b, k6);
                b = AesNi.Encrypt(b, k7);
                b = AesNi.Encrypt(b, k8);
                b = AesNi.Encrypt(b, k9);
                b = AesNi.EncryptLast(b, k10);
                if (subtract)
                {
                    Sub(ref dst, offset, b, m);
                }
                else
                {
                    Add(ref dst, offset, b, m);
                }

                offset += BlockSize;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Add(ref byte dst, nuint offset, Vector128<byte> ks, Vector128<T> m)
        {
            unchecked
            {
                Vector128<T> a = Vector128.LoadUnsafe(ref dst, offset).As<byte, T>();
                ((a + ks.As<byte, T>()) & m).AsByte().StoreUnsafe(ref dst, offset);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Sub(ref byte dst, nuint offset, Vector128<byte> ks, Vector128<T> m)
        {
            unchecked
            {
                Vector128<T> a = Vector128.LoadUnsafe(ref dst, offset).As<byte, T>();
                ((a - ks.As<byte, T>()) & m).AsByte().StoreUnsafe(ref dst, offset);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Counter(ref ulong high, ref ulong low, Vector128<byte> reverse)
    {
        unchecked
        {
            Vector128<byte> block = Ssse3.Shuffle(Vector128.Create(low, high).AsByte(), reverse);
            low++;
            if (low == 0)
            {
                high++;
            }

            return block;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(
        ref Vector128<byte> b0, ref Vector128<byte> b1, ref Vector128<byte> b2, ref Vector128<byte> b3,
        ref Vector128<byte> b4, ref Vector128<byte> b5, ref Vector128<byte> b6, ref Vector128<byte> b7,
        Vector128<byte> key)
    {
        b0 = AesNi.Encrypt(b0, key);
        b1 = AesNi.Encrypt(b1, key);
        b2 = AesNi.Encrypt(b2, key);
        b3 = AesNi.Encrypt(b3, key);
        b4 = AesNi.Encrypt(b4, key);
        b5 = AesNi.Encrypt(b5, key);
        b6 = AesNi.Encrypt(b6, key);
        b7 = AesNi.Encrypt(b7, key);
    }

    /// <summary>The AES-128 key schedule (FIPS 197, section 5.2) through AESKEYGENASSIST.</summary>
    private static void ExpandKey(ReadOnlySpan<byte> key, byte[] roundKeys)
    {
        Vector128<byte> k = Vector128.Create(key);
        ref byte dst = ref MemoryMarshal.GetArrayDataReference(roundKeys);
        k.StoreUnsafe(ref dst, 0);
        k = Next(k, AesNi.KeygenAssist(k, 0x01)); k.StoreUnsafe(ref dst, 16);
        k = Next(k, AesNi.KeygenAssist(k, 0x02)); k.StoreUnsafe(ref dst, 32);
        k = Next(k, AesNi.KeygenAssist(k, 0x04)); k.StoreUnsafe(ref dst, 48);
        k = Next(k, AesNi.KeygenAssist(k, 0x08)); k.StoreUnsafe(ref dst, 64);
        k = Next(k, AesNi.KeygenAssist(k, 0x10)); k.StoreUnsafe(ref dst, 80);
        k = Next(k, AesNi.KeygenAssist(k, 0x20)); k.StoreUnsafe(ref dst, 96);
        k = Next(k, AesNi.KeygenAssist(k, 0x40)); k.StoreUnsafe(ref dst, 112);
        k = Next(k, AesNi.KeygenAssist(k, 0x80)); k.StoreUnsafe(ref dst, 128);
        k = Next(k, AesNi.KeygenAssist(k, 0x1B)); k.StoreUnsafe(ref dst, 144);
        k = Next(k, AesNi.KeygenAssist(k, 0x36)); k.StoreUnsafe(ref dst, 160);

        static Vector128<byte> Next(Vector128<byte> k, Vector128<byte> assist)
        {
            // Broadcast RotWord(SubWord(w3)) ^ rcon, then fold the previous words in (w_i ^= w_{i-1}).
            Vector128<byte> t = Sse2.Shuffle(assist.AsInt32(), 0xFF).AsByte();
            k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
            k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
            k ^= Sse2.ShiftLeftLogical128BitLane(k, 4);
            return k ^ t;
        }
    }
}
