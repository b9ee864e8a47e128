using Confide.Randomness;

namespace Confide.Privacy.Local;

/// <summary>
/// The Gaussian mechanism for one numeric value known to lie in [lower, upper]: report x + N(0, σ²) with
/// σ = Δ·√(2 ln(1.25/δ))/ε and Δ = upper − lower, which is (ε, δ)-DP for ε &lt; 1 (Dwork and Roth, "The Algorithmic
/// Foundations of Differential Privacy", 2014, Theorem A.1). A value outside the bounds is refused.
/// </summary>
/// <remarks>For ε ≥ 1 this classical calibration is not valid; use a smaller ε or the Laplace mechanism.</remarks>
public sealed class BoundedGaussianMechanism
{
    /// <summary>Builds the mechanism for values in [<paramref name="lower"/>, <paramref name="upper"/>] at (ε, δ).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The bounds are not finite with lower &lt; upper, ε is outside (0, 1), or δ outside (0, 1).</exception>
    public BoundedGaussianMechanism(double lower, double upper, double epsilon, double delta)
    {
        Sensitivity = CheckBounds(lower, upper);
        if (!(epsilon > 0 && epsilon < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "The classical Gaussian mechanism needs ε in (0, 1).");
        }

        RdpAccountant.CheckDelta(delta);
        Lower = lower;
        Upper = upper;
        Epsilon = epsilon;
        Delta = delta;
        StandardDeviation = Sensitivity * Math.Sqrt(2 * Math.Log(1.25 / delta)) / epsilon;
    }

    /// <summary>The lower bound.</summary>
    public double Lower { get; }

    /// <summary>The upper bound.</summary>
    public double Upper { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>δ.</summary>
    public double Delta { get; }

    /// <summary>Δ = upper − lower.</summary>
    public double Sensitivity { get; }

    /// <summary>σ = Δ·√(2 ln(1.25/δ))/ε.</summary>
    public double StandardDeviation { get; }

    /// <summary>x + N(0, σ²).</summary>
    /// <exception cref="ArgumentOutOfRangeException">x is outside [lower, upper] or not finite.</exception>
    public double Perturb(double value, IRandomSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckValue(value, Lower, Upper);
        IGaussianNoise noise = new GaussianNoise(source);
        return value + noise.Sample(StandardDeviation);
    }

    internal static double CheckBounds(double lower, double upper)
    {
        if (!double.IsFinite(lower) || !double.IsFinite(upper) || !(lower < upper))
        {
            throw new ArgumentOutOfRangeException(nameof(upper), $"The bounds [{lower}, {upper}] must be finite with lower < upper.");
        }

        double sensitivity = upper - lower;
        if (!double.IsFinite(sensitivity))
        {
            throw new ArgumentOutOfRangeException(nameof(upper), "The range upper − lower overflows.");
        }

        return sensitivity;
    }

    internal static void CheckValue(double value, double lower, double upper)
    {
        if (!(value >= lower && value <= upper))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"The value must lie in [{lower}, {upper}]; outside it the sensitivity bound, and with it the privacy guarantee, would not hold.");
        }
    }
}
