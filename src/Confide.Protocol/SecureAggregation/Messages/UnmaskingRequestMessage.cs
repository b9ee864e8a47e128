namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Server to client after round 3: the survivor list again, the peers the server says dropped before sending a masked
/// input, and the survivor-list signatures it collected. The client checks the signatures against the list it signed,
/// and that no peer is both a survivor and dropped, before revealing anything.
/// </summary>
public sealed record UnmaskingRequestMessage(
    string SessionId,
    long Round,
    int Recipient,
    IReadOnlyList<int> Survivors,
    IReadOnlyList<int> Dropped,
    IReadOnlyList<ConsistencySignatureMessage> Signatures)
    : SecAggServerMessage(SessionId, Round, Recipient)
{
    public override SecAggStage Stage => SecAggStage.Unmasking;
}
