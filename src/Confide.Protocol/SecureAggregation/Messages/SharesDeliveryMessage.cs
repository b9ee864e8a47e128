namespace Confide.Protocol.SecureAggregation;

/// <summary>Server to client after round 1: the encrypted shares addressed to the recipient by neighbours that completed ShareKeys.</summary>
public sealed record SharesDeliveryMessage(string SessionId, long Round, int Recipient, IReadOnlyList<EncryptedShare> Shares)
    : SecAggServerMessage(SessionId, Round, Recipient)
{
    public override SecAggStage Stage => SecAggStage.MaskedInputCollection;
}
