namespace Confide.Privacy.Local;

/// <summary>
/// Optimised unary encoding, OUE (Wang et al., USENIX Security 2017, §4.4): p = ½, q = 1/(e^ε + 1), which minimises the
/// variance of unary encoding: n·Var ≈ 4e^ε/(e^ε − 1)² for rare values, independent of d.
/// </summary>
public sealed class OptimizedUnaryEncoding : UnaryEncoding
{
    /// <summary>OUE over <paramref name="domainSize"/> ≥ 2 categories at <paramref name="epsilon"/>.</summary>
    public OptimizedUnaryEncoding(int domainSize, double epsilon)
        : base(Checked(domainSize, epsilon), epsilon, 0.5, 1 / (Math.Exp(epsilon) + 1))
    {
    }

    private static int Checked(int d, double epsilon)
    {
        CheckDomain(d, 2);
        CheckEpsilon(epsilon);
        return d;
    }
}
