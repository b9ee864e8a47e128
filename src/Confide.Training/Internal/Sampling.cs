using Confide.Randomness;

namespace Confide.Training.Internal;

/// <summary>Continuous distributions drawn from an injected <see cref="IRandomSource"/>.</summary>
internal static class Sampling
{
    /// <summary>A standard normal (Box–Muller; one of the pair is discarded so draws stay stateless).</summary>
    public static double Normal(IRandomSource random)
    {
        double u1;
        do
        {
            u1 = random.NextDouble();
        }
        while (u1 <= double.Epsilon);
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang (2000); for shape &lt; 1 via Gamma(shape + 1)·U^(1/shape).</summary>
    public static double Gamma(double shape, IRandomSource random)
    {
        if (!(shape > 0) || !double.IsFinite(shape))
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "The gamma shape must be a finite positive number.");
        }

        if (shape < 1)
        {
            double u = random.NextDouble();
            return Gamma(shape + 1, random) * Math.Pow(u, 1.0 / shape);
        }

        double d = shape - (1.0 / 3);
        double c = 1.0 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + (c * x);
            }
            while (v <= 0);
            v = v * v * v;
            double u = random.NextDouble();
            if (u < 1 - (0.0331 * x * x * x * x) || Math.Log(u) < (0.5 * x * x) + (d * (1 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }

    /// <summary>A draw from the symmetric Dirichlet(α, …, α) over <paramref name="k"/> categories.</summary>
    public static double[] Dirichlet(double alpha, int k, IRandomSource random)
    {
        var p = new double[k];
        double sum = 0;
        while (sum <= 0)
        {
            for (int i = 0; i < k; i++)
            {
                p[i] = Gamma(alpha, random);
            }

            sum = p.Sum();
        }

        for (int i = 0; i < k; i++)
        {
            p[i] /= sum;
        }

        return p;
    }
}
