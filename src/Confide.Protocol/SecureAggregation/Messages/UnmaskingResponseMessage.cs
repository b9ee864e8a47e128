namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Round 4: shares of the self-mask seed b_v for surviving neighbours v, and shares of the mask private key s_v^SK for
/// neighbours that dropped. Never both for the same peer.
/// </summary>
public sealed record UnmaskingResponseMessage(
    string SessionId,
    long Round,
    int Sender,
    IReadOnlyList<RevealedShare> SelfMaskShares,
    IReadOnlyList<RevealedShare> MaskKeyShares)
    : SecAggClientMessage(SessionId, Round, Sender)
{
    public override SecAggStage Stage => SecAggStage.Unmasking;
}
