using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Confide.Randomness;

namespace Confide.Privacy.Internal;

/// <summary>
/// Box–Muller in single precision over 8-lane vectors, for float noise at memory speed. Each pair of samples consumes two
/// 32-bit words: k₁ for the radius √(−2 ln u₁) with u₁ = (k₁ + ½)·2⁻³², and k₂ for the angle 2π·k₂·2⁻³², whose sine and
/// cosine come from Taylor polynomials on a quarter turn (error below 10⁻⁹, far under float rounding).
/// </summary>
/// <remarks>
/// The tail is refined where the 32-bit grid is coarse: when k₁ &lt; 256 (probability 2⁻²⁴) the pair is redone in double
/// with 53 more random bits inside that bucket, so the radius is continuous out to about 10σ instead of stopping at 6.8σ.
/// The two samples of a pair go to the two halves of the block; both are N(0, σ²) and independent.
/// </remarks>
internal static class BoxMullerFloatKernel
{
    public const int BlockPairs = 2048;
    public const int BlockSamples = 2 * BlockPairs;
    private const float TwoTo32Inverse = 1f / 4294967296f;
    private const float HalfUlp = 0.5f / 4294967296f;
    private const float QuarterTurnOver2To30 = (float)(Math.PI / 2 / 1073741824.0);
    private const uint RefineBelow = 256;

    /// <summary>Adds (or writes) N(0, sd²) samples into <paramref name="dest"/> using <paramref name="words"/> as scratch.</summary>
    public static void Run(IRandomSource source, Span<float> dest, float sd, bool add, uint[] words)
    {
        int offset = 0;
        while (offset < dest.Length)
        {
            int n = Math.Min(BlockSamples, dest.Length - offset);
            Block(source, dest.Slice(offset, n), sd, add, words);
            offset += n;
        }
    }

    private static void Block(IRandomSource source, Span<float> dest, float sd, bool add, uint[] words)
    {
        int pairs = (dest.Length + 1) / 2;
        int vectorPairs = dest.Length / 2 / Vector256<float>.Count * Vector256<float>.Count;
        var bytes = MemoryMarshal.AsBytes(words.AsSpan(0, 2 * pairs));
        source.NextBytes(bytes);
        var k1s = words.AsSpan(0, pairs);
        var k2s = words.AsSpan(pairs, pairs);

        // First half of the block gets r·cos, the second half r·sin; an odd tail is handled by the scalar path.
        int half = dest.Length / 2;
        ref float x = ref MemoryMarshal.GetReference(dest);
        ref float y = ref Unsafe.Add(ref x, half);
        var scale = Vector256.Create(-2f * sd * sd);
        for (int i = 0; i < vectorPairs; i += Vector256<float>.Count)
        {
            var k1 = Vector256.LoadUnsafe(ref k1s[i]);
            var k2 = Vector256.LoadUnsafe(ref k2s[i]);
            if (Vector256.LessThanAny(k1, Vector256.Create(RefineBelow)))
            {
                for (int j = i; j < i + Vector256<float>.Count; j++)
                {
                    ScalarPair(source, k1s[j], k2s[j], sd, out float a, out float b);
                    Store(ref Unsafe.Add(ref x, j), a, add);
                    Store(ref Unsafe.Add(ref y, j), b, add);
                }

                continue;
            }

            var u1 = (Vector256.ConvertToSingle(k1) * TwoTo32Inverse) + Vector256.Create(HalfUlp);
            var r = Vector256.Sqrt(Vector256.Log(u1) * scale);
            SinCosTurn(k2, out var s, out var c);
            var vx = r * c;
            var vy = r * s;
            if (add)
            {
                vx += Vector256.LoadUnsafe(ref Unsafe.Add(ref x, i));
                vy += Vector256.LoadUnsafe(ref Unsafe.Add(ref y, i));
            }

            vx.StoreUnsafe(ref Unsafe.Add(ref x, i));
            vy.StoreUnsafe(ref Unsafe.Add(ref y, i));
        }

        for (int j = vectorPairs; j < half; j++)
        {
            ScalarPair(source, k1s[j], k2s[j], sd, out float a, out float b);
            Store(ref Unsafe.Add(ref x, j), a, add);
            Store(ref Unsafe.Add(ref y, j), b, add);
        }

        if ((dest.Length & 1) == 1)
        {
            ScalarPair(source, k1s[pairs - 1], k2s[pairs - 1], sd, out float a, out _);
            Store(ref dest[^1], a, add);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float target, float value, bool add) => target = add ? target + value : value;

    /// <summary>One pair in double, refining u₁ inside its bucket when k₁ is small.</summary>
    private static void ScalarPair(IRandomSource source, uint k1, uint k2, float sd, out float a, out float b)
    {
        double u1 = k1 < RefineBelow
            ? (k1 + (((source.NextUInt64() >> 11) + 0.5) / 9007199254740992.0)) / 4294967296.0
            : (k1 + 0.5) / 4294967296.0;
        double r = sd * Math.Sqrt(-2 * Math.Log(u1));
        double angle = k2 * (2 * Math.PI / 4294967296.0);
        a = (float)(r * Math.Cos(angle));
        b = (float)(r * Math.Sin(angle));
    }

    /// <summary>sin and cos of 2π·k·2⁻³²: quadrant from the top two bits, Taylor polynomials on [0, π/2) for the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SinCosTurn(Vector256<uint> k, out Vector256<float> sin, out Vector256<float> cos)
    {
        var quadrant = k >>> 30;
        var phi = Vector256.ConvertToSingle(k & Vector256.Create(0x3FFFFFFFu)) * QuarterTurnOver2To30;
        var p2 = phi * phi;

        // sin φ to φ¹³ and cos φ to φ¹⁴: truncation error below 7·10⁻¹⁰ on [0, π/2].
        var s = Vector256.Create(1f / 6227020800f);
        s = (s * p2) + Vector256.Create(-1f / 39916800f);
        s = (s * p2) + Vector256.Create(1f / 362880f);
        s = (s * p2) + Vector256.Create(-1f / 5040f);
        s = (s * p2) + Vector256.Create(1f / 120f);
        s = (s * p2) + Vector256.Create(-1f / 6f);
        s = ((s * p2) + Vector256<float>.One) * phi;

        // cos φ = 1 − φ²(½ − φ²/24 + φ⁴/720 − …), the bracket by Horner in φ².
        var c = Vector256.Create(1f / 87178291200f);
        c = (c * p2) + Vector256.Create(-1f / 479001600f);
        c = (c * p2) + Vector256.Create(1f / 3628800f);
        c = (c * p2) + Vector256.Create(-1f / 40320f);
        c = (c * p2) + Vector256.Create(1f / 720f);
        c = (c * p2) + Vector256.Create(-1f / 24f);
        c = (c * p2) + Vector256.Create(0.5f);
        c = Vector256<float>.One - (c * p2);

        // Rotate by the quadrant: q = 1 → (−s, c), q = 2 → (−c, −s), q = 3 → (s, −c).
        var odd = Vector256.Equals(quadrant & Vector256<uint>.One, Vector256<uint>.One).AsSingle();
        var x = Vector256.ConditionalSelect(odd, s, c);
        var y = Vector256.ConditionalSelect(odd, c, s);
        var signX = (((quadrant + Vector256<uint>.One) & Vector256.Create(2u)) << 30).AsSingle();
        var signY = ((quadrant & Vector256.Create(2u)) << 30).AsSingle();
        cos = x ^ signX;
        sin = y ^ signY;
    }
}
