namespace Confide.Protocol.SecureAggregation;

/// <summary>Round 1: one encrypted share bundle for each neighbour whose keys the sender received.</summary>
public sealed record ShareKeysMessage(string SessionId, long Round, int Sender, IReadOnlyList<EncryptedShare> Shares)
    : SecAggClientMessage(SessionId, Round, Sender)
{
    public override SecAggStage Stage => SecAggStage.ShareKeys;
}
