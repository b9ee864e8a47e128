using System.Numerics;
using Confide.Randomness;

namespace Confide.Privacy;

/// <summary>
/// Exact sampler for the discrete Gaussian N_Z(0, σ²), P(x) ∝ exp(−x²/(2σ²)) over the integers: Canonne, Kamath, Steinke,
/// "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1–3. Used for noise added to integer
/// vectors, e.g. quantised updates before secure-aggregation masking (distributed DP).
/// </summary>
/// <remarks>
/// <para>No floating-point arithmetic touches the sampling: σ² is held as an exact rational N/D, Bernoulli(exp(−γ)) for
/// rational γ uses only uniform integers and comparisons (Algorithm 1), the discrete Laplace is drawn by rejection
/// (Algorithm 2) and the discrete Gaussian by rejection from it (Algorithm 3). The output is exactly N_Z(0, σ²) given
/// a uniform random source.</para>
/// <para>Which σ² is exact: <see cref="FromVariance"/> takes σ² = N/D exactly (any positive integers). The
/// <see cref="DiscreteGaussian(double)"/> constructor takes the double σ you pass (which is itself a binary fraction m·2^e) and
/// squares it exactly, so the variance parameter is exactly σ_double², not a rounded product; a decimal like 0.1 is of
/// course represented by its nearest double first.</para>
/// <para>The variance of N_Z(0, σ²) is at most σ², and within 2.2·10⁻⁷ relative of it for σ ≥ 1 (0.99999979 at σ = 1).</para>
/// </remarks>
public sealed class DiscreteGaussian
{
    private readonly BigInteger _num;   // σ² = _num / _den, reduced
    private readonly BigInteger _den;
    private readonly long _t;           // ⌊σ⌋ + 1, the discrete Laplace scale
    private readonly BigInteger _twoNumTSquaredDen; // 2·N·t²·D, the denominator of γ

    // The same quantities in 128-bit integers when they fit, for a fast path with identical (exact) arithmetic.
    private readonly bool _fast;
    private readonly UInt128 _num128, _tDen128, _twoNumTSquaredDen128;
    private readonly long _fastMaxAbsY;

    /// <summary>A discrete Gaussian with parameter σ (the variance parameter is σ² computed exactly from the double σ).</summary>
    /// <exception cref="ArgumentOutOfRangeException">σ is not a positive finite number.</exception>
    public DiscreteGaussian(double sigma)
        : this(ExactSquare(sigma))
    {
    }

    private DiscreteGaussian((BigInteger Num, BigInteger Den) variance)
    {
        var (num, den) = variance;
        var g = BigInteger.GreatestCommonDivisor(num, den);
        _num = num / g;
        _den = den / g;
        BigInteger floorSigma = IntegerSqrt(_num / _den); // ⌊√(N/D)⌋ = ⌊√⌊N/D⌋⌋
        if (floorSigma >= long.MaxValue - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(variance), "σ is too large for 64-bit samples.");
        }

        _t = (long)floorSigma + 1;
        _twoNumTSquaredDen = 2 * _num * _t * _t * _den;
        var limit62 = BigInteger.One << 62;
        BigInteger tDen = _t * _den;
        if (_num < limit62 && tDen < limit62 && _twoNumTSquaredDen <= (BigInteger)UInt128.MaxValue)
        {
            // |Y|·t·D stays below 2⁶² for |Y| ≤ ⌊2⁶²/(tD)⌋, so (|Y|tD − N)² stays below 2¹²⁴.
            _fast = true;
            _num128 = (UInt128)_num;
            _tDen128 = (UInt128)tDen;
            _twoNumTSquaredDen128 = (UInt128)_twoNumTSquaredDen;
            _fastMaxAbsY = (long)(limit62 / tDen);
        }
        Sigma = Math.Sqrt((double)_num / (double)_den);
    }

    /// <summary>A discrete Gaussian whose variance parameter is exactly σ² = <paramref name="numerator"/>/<paramref name="denominator"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Either part is not positive.</exception>
    public static DiscreteGaussian FromVariance(BigInteger numerator, BigInteger denominator)
    {
        if (numerator.Sign <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numerator), numerator, "σ²'s numerator must be positive.");
        }

        if (denominator.Sign <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(denominator), denominator, "σ²'s denominator must be positive.");
        }

        return new DiscreteGaussian((numerator, denominator));
    }

    /// <summary>σ, rounded to a double (for display and for variance checks; sampling uses the exact σ²).</summary>
    public double Sigma { get; }

    /// <summary>The exact variance parameter σ² as a reduced fraction.</summary>
    public (BigInteger Numerator, BigInteger Denominator) VarianceParameter => (_num, _den);

    /// <summary>One sample from N_Z(0, σ²).</summary>
    public long Sample(IRandomSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        while (true)
        {
            long y = SampleDiscreteLaplace(source, _t);
            // γ = (|Y| − σ²/t)² / (2σ²) = (|Y|·t·D − N)² / (2·N·t²·D).
            if (_fast && y != long.MinValue && Math.Abs(y) <= _fastMaxAbsY)
            {
                UInt128 a = (ulong)Math.Abs(y) * _tDen128;
                UInt128 d = a >= _num128 ? a - _num128 : _num128 - a;
                if (BernoulliExpMinus(source, d * d, _twoNumTSquaredDen128))
                {
                    return y;
                }

                continue;
            }

            BigInteger diff = (BigInteger.Abs(y) * _t * _den) - _num;
            if (BernoulliExpMinus(source, diff * diff, _twoNumTSquaredDen))
            {
                return y;
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> with independent samples.</summary>
    public void Sample(IRandomSource source, Span<long> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = Sample(source);
        }
    }

    /// <summary>Adds independent samples to <paramref name="values"/> (checked: overflow throws rather than wraps).</summary>
    public void AddTo(IRandomSource source, Span<long> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = checked(values[i] + Sample(source));
        }
    }

    /// <summary>The discrete Laplace with scale t: P(x) ∝ exp(−|x|/t) (CKS 2020, Algorithm 2).</summary>
    internal static long SampleDiscreteLaplace(IRandomSource source, long t)
    {
        while (true)
        {
            long u = (long)source.NextUInt64Below((ulong)t);
            if (!BernoulliExpMinus(source, (UInt128)(ulong)u, (UInt128)(ulong)t))
            {
                continue;
            }

            long v = 0;
            while (BernoulliExpMinusOne(source))
            {
                v++;
            }

            long x = checked(u + (t * v));
            bool negative = (source.NextUInt64() & 1) == 1;
            if (negative && x == 0)
            {
                continue;
            }

            return negative ? -x : x;
        }
    }

    /// <summary>Bernoulli(exp(−n/d)) for integers n ≥ 0, d &gt; 0, exactly (CKS 2020, Algorithm 1).</summary>
    internal static bool BernoulliExpMinus(IRandomSource source, BigInteger n, BigInteger d)
    {
        if (n > d)
        {
            // exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋)).
            BigInteger whole = BigInteger.DivRem(n, d, out BigInteger rest);
            for (BigInteger i = 0; i < whole; i++)
            {
                if (!BernoulliExpMinus(source, BigInteger.One, BigInteger.One))
                {
                    return false;
                }
            }

            return BernoulliExpMinus(source, rest, d);
        }

        // γ ∈ [0, 1]: K is the first k with Bernoulli(γ/k) = 0; return whether K is odd.
        long k = 1;
        while (Bernoulli(source, n, d * k))
        {
            k++;
        }

        return (k & 1) == 1;
    }

    /// <summary>Bernoulli(exp(−n/d)) in 128-bit integers; the same algorithm as the BigInteger version.</summary>
    internal static bool BernoulliExpMinus(IRandomSource source, UInt128 n, UInt128 d)
    {
        if (n > d)
        {
            UInt128 whole = n / d;
            for (UInt128 i = 0; i < whole; i++)
            {
                if (!BernoulliExpMinusOne(source))
                {
                    return false;
                }
            }

            n %= d;
        }

        // K is the first k with Bernoulli(n/(d·k)) = 0. d·k could overflow only after ~2⁴ rounds of an event of
        // probability ≤ 1/k! each; the BigInteger fallback keeps it exact even then.
        long k = 1;
        while (true)
        {
            UInt128 dk;
            try
            {
                dk = checked(d * (ulong)k);
            }
            catch (OverflowException)
            {
                return BernoulliExpMinusTail(source, n, d, k);
            }

            if (UniformBelow(source, dk) >= n)
            {
                return (k & 1) == 1;
            }

            k++;
        }
    }

    private static bool BernoulliExpMinusTail(IRandomSource source, UInt128 n, UInt128 d, long k)
    {
        BigInteger bn = n, bd = d;
        while (Bernoulli(source, bn, bd * k))
        {
            k++;
        }

        return (k & 1) == 1;
    }

    private static bool BernoulliExpMinusOne(IRandomSource source)
    {
        // Bernoulli(exp(−1)): K is the first k with Bernoulli(1/k) = 0.
        ulong k = 1;
        while (source.NextUInt64Below(k) == 0)
        {
            k++;
        }

        return (k & 1) == 1;
    }

    private static UInt128 UniformBelow(IRandomSource source, UInt128 bound)
    {
        if (bound <= ulong.MaxValue)
        {
            return source.NextUInt64Below((ulong)bound);
        }

        // Rejection on the smallest power of two above the bound.
        int bits = 128 - (int)UInt128.LeadingZeroCount(bound - 1);
        UInt128 mask = bits == 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;
        while (true)
        {
            UInt128 x = new UInt128(source.NextUInt64(), source.NextUInt64()) & mask;
            if (x < bound)
            {
                return x;
            }
        }
    }

    /// <summary>Bernoulli(n/d) for 0 ≤ n ≤ d: a uniform integer below d compared with n.</summary>
    internal static bool Bernoulli(IRandomSource source, BigInteger n, BigInteger d) => UniformBelow(source, d) < n;

    private static BigInteger UniformBelow(IRandomSource source, BigInteger bound)
    {
        if (bound <= ulong.MaxValue)
        {
            return source.NextUInt64Below((ulong)bound);
        }

        // Rejection on the smallest power of two above the bound: exact and at most two tries on average.
        long bits = (long)bound.GetBitLength();
        int bytes = (int)((bits + 7) / 8);
        byte[] buffer = new byte[bytes + 1];
        int topMask = (1 << (int)(bits - (8L * (bytes - 1)))) - 1;
        while (true)
        {
            source.NextBytes(buffer.AsSpan(0, bytes));
            buffer[bytes - 1] &= (byte)topMask;
            buffer[bytes] = 0;
            var x = new BigInteger(buffer, isUnsigned: true);
            if (x < bound)
            {
                return x;
            }
        }
    }

    private static (BigInteger, BigInteger) ExactSquare(double sigma)
    {
        if (!(sigma > 0) || double.IsPositiveInfinity(sigma))
        {
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "σ must be a positive finite number.");
        }

        // σ = m · 2^e exactly, with m the 53-bit significand.
        long bits = BitConverter.DoubleToInt64Bits(sigma);
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0)
        {
            exponent = 1; // subnormal
        }
        else
        {
            mantissa |= 1L << 52;
        }

        int e = exponent - 1075;
        BigInteger m2 = (BigInteger)mantissa * mantissa;
        return e >= 0 ? (m2 << (2 * e), BigInteger.One) : (m2, BigInteger.One << (-2 * e));
    }

    private static BigInteger IntegerSqrt(BigInteger n)
    {
        if (n.IsZero)
        {
            return n;
        }

        // Newton's iteration from an upper bound, decreasing monotonically to ⌊√n⌋.
        BigInteger x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            BigInteger y = (x + (n / x)) / 2;
            if (y >= x)
            {
                return x;
            }

            x = y;
        }
    }
}
