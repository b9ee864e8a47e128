namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Server to client after round 3: the survivor list again, the peers the server says dropped before sending a masked
/// input, and survivor-list signatures it collected (<see cref="SecAggServer"/> sends those of the quorum's worth of
/// lowest-id signers). The client verifies every signature against the list it signed, demands a quorum of them, and
/// checks that no peer is both a survivor and dropped, before revealing anything.
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
