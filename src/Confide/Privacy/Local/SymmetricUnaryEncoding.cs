namespace Confide.Privacy.Local;

/// <summary>
/// Symmetric unary encoding, SUE, the one-round "basic RAPPOR" (Erlingsson, Pihur, Korolova, CCS 2014; analysed as SUE in
/// Wang et al., USENIX Security 2017, §4.3): p = e^{ε/2}/(e^{ε/2} + 1), q = 1 − p.
/// </summary>
public sealed class SymmetricUnaryEncoding : UnaryEncoding
{
    /// <summary>SUE over <paramref name="domainSize"/> ≥ 2 categories at <paramref name="epsilon"/>.</summary>
    public SymmetricUnaryEncoding(int domainSize, double epsilon)
        : base(Checked(domainSize, epsilon), epsilon, Math.Exp(epsilon / 2) / (Math.Exp(epsilon / 2) + 1), 1 / (Math.Exp(epsilon / 2) + 1))
    {
    }

    private static int Checked(int d, double epsilon)
    {
        CheckDomain(d, 2);
        CheckEpsilon(epsilon);
        return d;
    }
}
