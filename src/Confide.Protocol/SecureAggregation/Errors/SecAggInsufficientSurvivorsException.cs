namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Too few clients survived a stage for the round to finish: some neighbourhood fell below the Shamir threshold, or
/// the survivors fell below the threshold or the signature quorum. The state machine moves to <see cref="SecAggStage.Aborted"/>.
/// </summary>
public sealed class SecAggInsufficientSurvivorsException(SecAggStage stage, int available, int required, string message)
    : SecAggProtocolException(stage, message)
{
    /// <summary>How many clients were available where the check failed.</summary>
    public int Available { get; } = available;

    /// <summary>How many were required.</summary>
    public int Required { get; } = required;
}
