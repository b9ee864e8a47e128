using Confide.Randomness;

namespace Confide.Privacy.Local;

/// <summary>
/// Randomised response for one bit (Warner, "Randomized Response", JASA 1965): report the true bit with probability
/// p = e^ε/(e^ε + 1), else its flip. ε-LDP against everyone who sees the report. The fraction of true ones is estimated
/// without bias by f̂ = (ones/n − (1 − p))/(2p − 1), with Var[f̂] = p(1 − p)/(n(2p − 1)²) (GRR with d = 2).
/// </summary>
public sealed class RandomizedResponse
{
    /// <summary>Randomised response at <paramref name="epsilon"/>.</summary>
    public RandomizedResponse(double epsilon)
    {
        if (!(epsilon > 0) || double.IsPositiveInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a positive finite number.");
        }

        Epsilon = epsilon;
        P = Math.Exp(epsilon) / (Math.Exp(epsilon) + 1);
    }

    /// <summary>ε of each report.</summary>
    public double Epsilon { get; }

    /// <summary>The probability of reporting the true bit.</summary>
    public double P { get; }

    /// <summary>The randomised report of <paramref name="bit"/>.</summary>
    public bool Perturb(bool bit, IRandomSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.NextDouble() < P ? bit : !bit;
    }

    /// <summary>The unbiased estimate of the fraction of true ones from <paramref name="onesReported"/> of <paramref name="reports"/>.</summary>
    public double EstimateFraction(long onesReported, long reports)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(reports);
        if (onesReported < 0 || onesReported > reports)
        {
            throw new ArgumentOutOfRangeException(nameof(onesReported), onesReported, $"The count of ones must lie in [0, {reports}].");
        }

        return (((double)onesReported / reports) - (1 - P)) / ((2 * P) - 1);
    }

    /// <summary>Var[f̂] for <paramref name="reports"/> reports; it does not depend on the true fraction.</summary>
    public double Variance(long reports)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(reports);
        double d = (2 * P) - 1;
        return P * (1 - P) / (reports * d * d);
    }
}
