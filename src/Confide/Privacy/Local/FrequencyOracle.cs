namespace Confide.Privacy.Local;

/// <summary>
/// A pure ε-LDP frequency oracle over d categories in the "pure protocol" form of Wang, Blocki, Li, Jha, "Locally
/// Differentially Private Protocols for Frequency Estimation" (USENIX Security 2017): a report supports its true value
/// with probability p and any other value with probability q &lt; p, so the support count c of value v estimates
/// its true count by ĉ = (c − n·q)/(p − q), unbiased, and the frequency f̂ = ĉ/n has
/// Var[f̂] = q(1 − q)/(n(p − q)²) + f(1 − p − q)/(n(p − q)) (their Eq. 2 with f the true frequency).
/// </summary>
/// <remarks>Guarantee: each report is ε-LDP against everyone who sees it, including the aggregator; there is no trusted party.</remarks>
public abstract class FrequencyOracle
{
    private protected FrequencyOracle(int domainSize, double epsilon, double p, double q)
    {
        DomainSize = domainSize;
        Epsilon = epsilon;
        P = p;
        Q = q;
    }

    /// <summary>d, the number of categories (values 0 … d − 1).</summary>
    public int DomainSize { get; }

    /// <summary>ε of each report.</summary>
    public double Epsilon { get; }

    /// <summary>p = Pr[a report supports the true value].</summary>
    public double P { get; }

    /// <summary>q = Pr[a report supports a given other value].</summary>
    public double Q { get; }

    /// <summary>Unbiased count estimates ĉᵥ = (cᵥ − n·q)/(p − q) from the support counts of <paramref name="reports"/> reports.</summary>
    /// <exception cref="ArgumentException">The counts' length is not d, or a count is negative or above n.</exception>
    public double[] EstimateCounts(ReadOnlySpan<long> supportCounts, long reports)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(reports);
        if (supportCounts.Length != DomainSize)
        {
            throw new ArgumentException($"There are {supportCounts.Length} support counts for a domain of {DomainSize}; expected one per category.", nameof(supportCounts));
        }

        var estimates = new double[DomainSize];
        for (int v = 0; v < DomainSize; v++)
        {
            if (supportCounts[v] < 0 || supportCounts[v] > reports)
            {
                throw new ArgumentException($"Support count {supportCounts[v]} of category {v} is outside [0, {reports}].", nameof(supportCounts));
            }

            estimates[v] = (supportCounts[v] - (reports * Q)) / (P - Q);
        }

        return estimates;
    }

    /// <summary>Unbiased frequency estimates f̂ᵥ = ĉᵥ/n.</summary>
    public double[] EstimateFrequencies(ReadOnlySpan<long> supportCounts, long reports)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(reports);
        var c = EstimateCounts(supportCounts, reports);
        for (int v = 0; v < c.Length; v++)
        {
            c[v] /= reports;
        }

        return c;
    }

    /// <summary>Var[f̂] for <paramref name="reports"/> reports of a value with true frequency <paramref name="frequency"/>.</summary>
    public double Variance(long reports, double frequency)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(reports);
        if (!(frequency >= 0 && frequency <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(frequency), frequency, "The frequency must lie in [0, 1].");
        }

        double pq = P - Q;
        return (Q * (1 - Q) / (reports * pq * pq)) + (frequency * (1 - P - Q) / (reports * pq));
    }

    private protected void CheckValue(int value)
    {
        if ((uint)value >= (uint)DomainSize)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"The value must be a category in [0, {DomainSize}).");
        }
    }

    private protected static void CheckEpsilon(double epsilon)
    {
        if (!(epsilon > 0) || double.IsPositiveInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a positive finite number.");
        }
    }

    private protected static void CheckDomain(int domainSize, int minimum)
    {
        if (domainSize < minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(domainSize), domainSize, $"The domain needs at least {minimum} categories.");
        }
    }
}
