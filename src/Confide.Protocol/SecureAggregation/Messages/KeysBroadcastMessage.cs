namespace Confide.Protocol.SecureAggregation;

/// <summary>Server to client after round 0: the signed keys of the recipient's neighbours that advertised in time.</summary>
public sealed record KeysBroadcastMessage(string SessionId, long Round, int Recipient, IReadOnlyList<AdvertiseKeysMessage> Keys)
    : SecAggServerMessage(SessionId, Round, Recipient)
{
    public override SecAggStage Stage => SecAggStage.ShareKeys;
}
