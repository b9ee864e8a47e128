namespace Confide.Protocol.SecureAggregation;

/// <summary>Round 2: y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv) mod 2^k, one element per coordinate.</summary>
public sealed record MaskedInputMessage(string SessionId, long Round, int Sender, ulong[] MaskedInput)
    : SecAggClientMessage(SessionId, Round, Sender)
{
    public override SecAggStage Stage => SecAggStage.MaskedInputCollection;
}
