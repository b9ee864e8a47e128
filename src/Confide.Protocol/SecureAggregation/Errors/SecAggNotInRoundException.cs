namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// A message came from a client that is no longer in the round: it missed an earlier stage (a dropout of that stage),
/// so the protocol will not take anything more from it. Nothing changes.
/// </summary>
public sealed class SecAggNotInRoundException(SecAggStage stage, int sender, SecAggStage droppedAt, string message)
    : SecAggProtocolException(stage, message)
{
    /// <summary>The client that sent the message.</summary>
    public int Sender { get; } = sender;

    /// <summary>The stage whose message the client failed to deliver in time.</summary>
    public SecAggStage DroppedAt { get; } = droppedAt;
}
