using System.Runtime.CompilerServices;

namespace Confide.SecureAggregation.Internal;

/// <summary>Arithmetic in the prime field GF(2^61 − 1). Inputs and outputs are fully reduced (in [0, p)).</summary>
internal static class Mersenne61
{
    public const ulong P = (1UL << 61) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong a, ulong b)
    {
        unchecked
        {
            ulong s = a + b; // < 2^62, no wrap
            return s >= P ? s - P : s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sub(ulong a, ulong b)
    {
        unchecked
        {
            return a >= b ? a - b : a + P - b;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mul(ulong a, ulong b)
    {
        unchecked
        {
            // a·b < 2^122. 2^61 ≡ 1 (mod p), so the product folds into (low 61 bits) + (the rest).
            ulong high = Math.BigMul(a, b, out ulong low);
            ulong r = (low & P) + ((low >> 61) | (high << 3));
            r = (r & P) + (r >> 61);
            return r >= P ? r - P : r;
        }
    }

    /// <summary>a^(p−2) = a^(−1) by Fermat's little theorem.</summary>
    public static ulong Inverse(ulong a)
    {
        if (a == 0)
        {
            throw new DivideByZeroException("Zero has no inverse in GF(2^61 - 1).");
        }

        ulong result = 1;
        ulong b = a;
        ulong e = P - 2;
        while (e != 0)
        {
            if ((e & 1) != 0)
            {
                result = Mul(result, b);
            }

            b = Mul(b, b);
            e >>= 1;
        }

        return result;
    }

    /// <summary>Inverts every element in place with one field inversion (Montgomery's trick).</summary>
    public static void BatchInverse(Span<ulong> values)
    {
        if (values.IsEmpty)
        {
            return;
        }

        var prefix = new ulong[values.Length];
        ulong acc = 1;
        for (int i = 0; i < values.Length; i++)
        {
            prefix[i] = acc;
            acc = Mul(acc, values[i]);
        }

        ulong inv = Inverse(acc);
        for (int i = values.Length - 1; i >= 0; i--)
        {
            ulong v = values[i];
            values[i] = Mul(inv, prefix[i]);
            inv = Mul(inv, v);
        }
    }

    /// <summary>The field element for a (possibly negative) integer.</summary>
    public static ulong FromInt(long x) => x >= 0 ? (ulong)x % P : P - ((ulong)(-x) % P);
}
