namespace Confide.Privacy;

/// <summary>A run's (ε_max, δ) privacy budget: the ledger refuses any release that would push ε at δ past ε_max.</summary>
public sealed record PrivacyBudget
{
    /// <summary>Validates and builds a budget.</summary>
    /// <exception cref="ArgumentOutOfRangeException">ε_max is not a positive finite number, or δ is outside (0, 1).</exception>
    public PrivacyBudget(double maxEpsilon, double delta)
    {
        if (!(maxEpsilon > 0) || double.IsPositiveInfinity(maxEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(maxEpsilon), maxEpsilon, "ε_max must be a positive finite number.");
        }

        RdpAccountant.CheckDelta(delta);
        MaxEpsilon = maxEpsilon;
        Delta = delta;
    }

    /// <summary>The largest ε the run may spend.</summary>
    public double MaxEpsilon { get; }

    /// <summary>The δ at which ε is measured.</summary>
    public double Delta { get; }

    /// <inheritdoc/>
    public override string ToString() => $"(ε_max = {MaxEpsilon:G6}, δ = {Delta:G3})";
}
