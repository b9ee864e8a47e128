namespace Confide.Privacy;

/// <summary>
/// A release was refused because it would push the spent ε past the budget. Nothing was charged; callers that
/// charge before they sample (as <see cref="DpFedAvg"/> does) have drawn no noise either.
/// </summary>
public sealed class PrivacyBudgetExceededException : InvalidOperationException
{
    public PrivacyBudgetExceededException()
        : base("The privacy budget would be exceeded.")
    {
    }

    public PrivacyBudgetExceededException(string message)
        : base(message)
    {
    }

    public PrivacyBudgetExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal PrivacyBudgetExceededException(double spentEpsilon, double epsilonAfter, PrivacyBudget budget, IReadOnlyList<PrivacyRelease> refused)
        : base($"Privacy budget exceeded: ε spent so far is {spentEpsilon:G6} at δ = {budget.Delta:G3}; "
            + $"{string.Join("; ", refused)} would cost {epsilonAfter - spentEpsilon:G6} more, bringing ε to {epsilonAfter:G6}, "
            + $"past the budget ε_max = {budget.MaxEpsilon:G6}. The release was refused and nothing was charged.")
    {
        SpentEpsilon = spentEpsilon;
        EpsilonAfter = epsilonAfter;
        Budget = budget;
    }

    /// <summary>The ε spent before the refused release.</summary>
    public double SpentEpsilon { get; }

    /// <summary>The ε the ledger would have reached with the release.</summary>
    public double EpsilonAfter { get; }

    /// <summary>The increase in ε the release would have caused (RDP composition makes this smaller than its ε alone).</summary>
    public double RoundCost => EpsilonAfter - SpentEpsilon;

    /// <summary>The budget that was defended.</summary>
    public PrivacyBudget? Budget { get; }
}
