namespace Confide.Protocol.Rounds;

/// <summary>What became of a submitted update.</summary>
public enum SubmissionStatus
{
    /// <summary>Accepted for aggregation.</summary>
    Accepted,

    /// <summary>Failed validation (layout, finite values, sample count, norm); the reason is recorded.</summary>
    Invalid,

    /// <summary>No round is collecting, or the update names another round than the current one.</summary>
    WrongRound,

    /// <summary>The client was not sampled into this round.</summary>
    NotSelected,

    /// <summary>The client already submitted in this round (accepted or rejected); a second submission is refused.</summary>
    AlreadySubmitted,

    /// <summary>The round's deadline has passed.</summary>
    TooLate,
}
