namespace Confide.Training.Internal;

/// <summary>The standard normal CDF and its inverse, to the accuracy attacks need (about 1e-7).</summary>
internal static class NormalDistribution
{
    /// <summary>Φ(x).</summary>
    public static double Cdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>Φ⁻¹(p) for p in (0, 1), by bisection on <see cref="Cdf"/>.</summary>
    public static double Quantile(double p)
    {
        if (!(p > 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "A normal quantile needs a probability strictly between 0 and 1.");
        }

        double lo = -40, hi = 40;
        for (int i = 0; i < 200 && hi - lo > 1e-12; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (Cdf(mid) < p)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return 0.5 * (lo + hi);
    }

    /// <summary>erfc(x) with fractional error below 1.2e-7 (the Chebyshev fit in Press et al., Numerical Recipes, §6.2).</summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + (0.5 * z));
        double[] c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
        double poly = c[^1];
        for (int i = c.Length - 2; i >= 0; i--)
        {
            poly = (poly * t) + c[i];
        }

        double r = t * Math.Exp((-z * z) + poly);
        return x >= 0 ? r : 2.0 - r;
    }
}
