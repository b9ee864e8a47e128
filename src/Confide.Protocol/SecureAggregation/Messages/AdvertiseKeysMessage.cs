namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Round 0: the client's two X25519 public keys, one for encrypting shares (c_u^PK) and one for agreeing mask seeds
/// (s_u^PK), signed together with the session, round and sender under the client's Ed25519 identity key.
/// </summary>
public sealed record AdvertiseKeysMessage(
    string SessionId, long Round, int Sender, byte[] CipherPublicKey, byte[] MaskPublicKey, byte[] Signature)
    : SecAggClientMessage(SessionId, Round, Sender)
{
    public override SecAggStage Stage => SecAggStage.AdvertiseKeys;
}
