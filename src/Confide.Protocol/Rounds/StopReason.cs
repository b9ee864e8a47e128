namespace Confide.Protocol.Rounds;

/// <summary>Why a run stopped.</summary>
public enum StopReason
{
    /// <summary>The configured number of rounds completed.</summary>
    RoundsCompleted,

    /// <summary>The next round's privacy charge would have exceeded the budget, so it was not run.</summary>
    PrivacyBudgetExhausted,
}
