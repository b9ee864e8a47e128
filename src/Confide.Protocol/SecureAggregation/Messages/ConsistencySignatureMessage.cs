namespace Confide.Protocol.SecureAggregation;

/// <summary>Round 3: the sender's Ed25519 signature over the session, round and survivor list it was shown.</summary>
public sealed record ConsistencySignatureMessage(string SessionId, long Round, int Sender, byte[] Signature)
    : SecAggClientMessage(SessionId, Round, Sender)
{
    public override SecAggStage Stage => SecAggStage.ConsistencyCheck;
}
