using Confide.Randomness;

namespace Confide.Privacy.Local;

/// <summary>
/// Generalised randomised response, k-RR / GRR (Wang et al., USENIX Security 2017, §4.1 "Direct Encoding"): report the
/// true value with p = e^ε/(e^ε + d − 1), otherwise one of the d − 1 others uniformly, q = (1 − p)/(d − 1).
/// Best among the oracles here when d &lt; 3e^ε + 2.
/// </summary>
public sealed class GeneralizedRandomizedResponse : FrequencyOracle
{
    /// <summary>GRR over <paramref name="domainSize"/> ≥ 2 categories at <paramref name="epsilon"/>.</summary>
    public GeneralizedRandomizedResponse(int domainSize, double epsilon)
        : base(domainSize, epsilon, Pp(domainSize, epsilon), (1 - Pp(domainSize, epsilon)) / (domainSize - 1))
    {
    }

    /// <summary>The randomised report of <paramref name="value"/>.</summary>
    public int Perturb(int value, IRandomSource source)
    {
        CheckValue(value);
        ArgumentNullException.ThrowIfNull(source);
        if (source.NextDouble() < P)
        {
            return value;
        }

        int other = source.NextInt32(DomainSize - 1);
        return other >= value ? other + 1 : other;
    }

    /// <summary>Support counts: how many reports name each value.</summary>
    public long[] Aggregate(IEnumerable<int> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var counts = new long[DomainSize];
        foreach (int r in reports)
        {
            CheckValue(r);
            counts[r]++;
        }

        return counts;
    }

    private static double Pp(int d, double epsilon)
    {
        CheckDomain(d, 2);
        CheckEpsilon(epsilon);
        return Math.Exp(epsilon) / (Math.Exp(epsilon) + d - 1);
    }
}
