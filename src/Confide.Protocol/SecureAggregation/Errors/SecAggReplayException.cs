namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// A message was already received from this sender in this stage, or it carries the identifiers of another session or round.
/// </summary>
public sealed class SecAggReplayException(SecAggStage stage, int sender, string message)
    : SecAggProtocolException(stage, message)
{
    /// <summary>The client id the replayed message claims to come from.</summary>
    public int Sender { get; } = sender;
}
