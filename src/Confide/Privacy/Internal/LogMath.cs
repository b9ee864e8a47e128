namespace Confide.Privacy.Internal;

/// <summary>
/// Log-domain helpers for the RDP accountant: stable log-add, log-subtract, log-binomial and an
/// accurate log erfc that does not underflow for large arguments (erfc(x) underflows to 0 near x = 27).
/// </summary>
internal static class LogMath
{
    private const double LogSqrtPi = 0.57236494292470008707171367567653; // log(sqrt(pi))
    private const double TwoOverSqrtPi = 1.1283791670955125738961589031215;

    /// <summary>log(e^a + e^b), exact for infinities.</summary>
    public static double LogAdd(double a, double b)
    {
        if (double.IsNegativeInfinity(a))
        {
            return b;
        }

        if (double.IsNegativeInfinity(b))
        {
            return a;
        }

        double hi = Math.Max(a, b), lo = Math.Min(a, b);
        return hi + Math.Log(1 + Math.Exp(lo - hi));
    }

    /// <summary>log(e^a − e^b) for a ≥ b; negative infinity when they are equal.</summary>
    public static double LogSub(double a, double b)
    {
        if (b > a)
        {
            throw new ArgumentException($"LogSub needs a ≥ b, got a = {a}, b = {b}.");
        }

        if (double.IsNegativeInfinity(b))
        {
            return a;
        }

        if (a == b)
        {
            return double.NegativeInfinity;
        }

        // log(1 − e^(b−a)) through log1p-free form that stays accurate when b − a is small.
        double d = b - a;
        return a + (d > -0.693 ? Math.Log(-ExpM1(d)) : Math.Log(1 - Math.Exp(d)));
    }

    /// <summary>log(1 + x), accurate for small |x| (Goldberg's compensation).</summary>
    public static double Log1P(double x)
    {
        double u = 1.0 + x;
        return u == 1.0 ? x : Math.Log(u) * x / (u - 1.0);
    }

    /// <summary>e^x − 1, accurate for small |x|.</summary>
    public static double ExpM1(double x)
    {
        if (Math.Abs(x) < 1e-5)
        {
            return x + (x * x / 2) + (x * x * x / 6);
        }

        // Kahan's trick: exact rounding error compensation for moderate x.
        double u = Math.Exp(x);
        if (u == 1.0)
        {
            return x;
        }

        double um1 = u - 1.0;
        return um1 == -1.0 ? -1.0 : um1 * x / Math.Log(u);
    }

    /// <summary>
    /// log(erfc(x)) for every finite x. For x below 3 it uses erfc = 1 − erf with erf from the all-positive series
    /// erf(x) = (2/√π) e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)); above it uses Laplace's continued fraction
    /// erfc(x) = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))), evaluated in the log domain so that it never underflows.
    /// </summary>
    public static double LogErfc(double x)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }

        if (x < 0)
        {
            // erfc(x) = 2 − erfc(−x) lies in (1, 2]: no underflow, no cancellation.
            return Math.Log(2 - Math.Exp(LogErfc(-x)));
        }

        if (x < 3)
        {
            return Math.Log(1 - Erf(x));
        }

        if (double.IsPositiveInfinity(x))
        {
            return double.NegativeInfinity;
        }

        return -(x * x) - LogSqrtPi - Math.Log(ContinuedFractionDenominator(x));
    }

    /// <summary>erfc(x); relative error below about 1e-11 where it does not underflow.</summary>
    public static double Erfc(double x) => x < 3 ? 1 - Erf(x) : Math.Exp(LogErfc(x));

    /// <summary>erf(x) by the positive series, for |x| &lt; 6 (beyond it erf is 1 to double precision).</summary>
    public static double Erf(double x)
    {
        if (x < 0)
        {
            return -Erf(-x);
        }

        if (x >= 6)
        {
            return 1.0;
        }

        double x2 = x * x;
        double term = x, sum = x;
        for (int n = 1; n < 500; n++)
        {
            term *= 2 * x2 / ((2 * n) + 1);
            sum += term;
            if (term < sum * 1e-17)
            {
                break;
            }
        }

        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    private static double ContinuedFractionDenominator(double x)
    {
        // Backward evaluation of x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …))). The tail's influence decays like
        // a geometric series whose ratio shrinks with x; 120 terms are ample for x ≥ 3 at double precision.
        int terms = x < 4 ? 120 : x < 8 ? 60 : 30;
        double t = x;
        for (int k = terms; k >= 1; k--)
        {
            t = x + (k * 0.5 / t);
        }

        return t;
    }

    /// <summary>log C(n, k) for integers 0 ≤ k ≤ n, exact summation of logs for small n.</summary>
    public static double LogBinomial(int n, int k)
    {
        if (k < 0 || k > n)
        {
            return double.NegativeInfinity;
        }

        k = Math.Min(k, n - k);
        double s = 0;
        for (int i = 1; i <= k; i++)
        {
            s += Math.Log((double)(n - k + i) / i);
        }

        return s;
    }
}
