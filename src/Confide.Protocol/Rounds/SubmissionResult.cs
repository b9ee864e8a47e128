namespace Confide.Protocol.Rounds;

/// <summary>The coordinator's answer to one submission: a status and, unless accepted, why.</summary>
public sealed record SubmissionResult(SubmissionStatus Status, string? Reason)
{
    /// <summary>True when the update was accepted.</summary>
    public bool IsAccepted => Status == SubmissionStatus.Accepted;
}
