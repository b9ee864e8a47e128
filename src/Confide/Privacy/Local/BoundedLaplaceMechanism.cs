using Confide.Randomness;

namespace Confide.Privacy.Local;

/// <summary>
/// The Laplace mechanism for one numeric value known to lie in [lower, upper] (Dwork, McSherry, Nissim, Smith, "Calibrating
/// Noise to Sensitivity in Private Data Analysis", TCC 2006): report x + Lap(Δ/ε) with Δ = upper − lower. ε-LDP when the
/// client perturbs its own value. A value outside the bounds is refused, since it would break the sensitivity Δ.
/// </summary>
/// <remarks>The noise is floating-point (inverse CDF over a 53-bit uniform), so the Mironov 2012 caveats on floating-point
/// Laplace noise apply; integer-valued releases that need exactness should use <see cref="DiscreteGaussian"/>.</remarks>
public sealed class BoundedLaplaceMechanism
{
    /// <summary>Builds the mechanism for values in [<paramref name="lower"/>, <paramref name="upper"/>] at <paramref name="epsilon"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bounds are not finite with lower &lt; upper, or ε is not positive and finite.</exception>
    public BoundedLaplaceMechanism(double lower, double upper, double epsilon)
    {
        Sensitivity = BoundedGaussianMechanism.CheckBounds(lower, upper);
        if (!(epsilon > 0) || double.IsPositiveInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a positive finite number.");
        }

        Lower = lower;
        Upper = upper;
        Epsilon = epsilon;
        Scale = Sensitivity / epsilon;
    }

    /// <summary>The lower bound.</summary>
    public double Lower { get; }

    /// <summary>The upper bound.</summary>
    public double Upper { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Δ = upper − lower.</summary>
    public double Sensitivity { get; }

    /// <summary>b = Δ/ε, the Laplace scale.</summary>
    public double Scale { get; }

    /// <summary>The variance of the noise, 2b².</summary>
    public double Variance => 2 * Scale * Scale;

    /// <summary>x + Lap(Δ/ε).</summary>
    /// <exception cref="ArgumentOutOfRangeException">x is outside [lower, upper] or not finite.</exception>
    public double Perturb(double value, IRandomSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        BoundedGaussianMechanism.CheckValue(value, Lower, Upper);
        // u uniform in (−½, ½) excluding the endpoint that would give log 0.
        double u = source.NextDouble() - 0.5;
        while (u == -0.5)
        {
            u = source.NextDouble() - 0.5;
        }

        return value - (Scale * Math.Sign(u) * Math.Log(1 - (2 * Math.Abs(u))));
    }
}
