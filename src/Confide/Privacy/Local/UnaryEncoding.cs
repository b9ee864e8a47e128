using Confide.Randomness;

namespace Confide.Privacy.Local;

/// <summary>
/// Unary-encoding oracles (Wang et al., USENIX Security 2017, §4.3): the value becomes a one-hot vector of d bits; the
/// true bit is reported as 1 with probability p and every other bit as 1 with probability q, independently.
/// </summary>
public abstract class UnaryEncoding : FrequencyOracle
{
    private protected UnaryEncoding(int domainSize, double epsilon, double p, double q)
        : base(domainSize, epsilon, p, q)
    {
    }

    /// <summary>Writes the randomised d-bit report of <paramref name="value"/> into <paramref name="report"/>.</summary>
    /// <exception cref="ArgumentException">The report's length is not d.</exception>
    public void Perturb(int value, IRandomSource source, Span<bool> report)
    {
        CheckValue(value);
        ArgumentNullException.ThrowIfNull(source);
        if (report.Length != DomainSize)
        {
            throw new ArgumentException($"The report has {report.Length} bits; expected d = {DomainSize}.", nameof(report));
        }

        for (int v = 0; v < report.Length; v++)
        {
            report[v] = source.NextDouble() < (v == value ? P : Q);
        }
    }

    /// <summary>The randomised report of <paramref name="value"/> as a new array.</summary>
    public bool[] Perturb(int value, IRandomSource source)
    {
        var report = new bool[DomainSize];
        Perturb(value, source, report);
        return report;
    }

    /// <summary>Support counts: how many reports have each bit set.</summary>
    public long[] Aggregate(IEnumerable<bool[]> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var counts = new long[DomainSize];
        foreach (var r in reports)
        {
            ArgumentNullException.ThrowIfNull(r);
            if (r.Length != DomainSize)
            {
                throw new ArgumentException($"A report has {r.Length} bits; expected d = {DomainSize}.", nameof(reports));
            }

            for (int v = 0; v < r.Length; v++)
            {
                counts[v] += r[v] ? 1 : 0;
            }
        }

        return counts;
    }
}
