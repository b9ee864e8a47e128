namespace Confide.Protocol.SecureAggregation;

/// <summary>Server to client after round 2: the ascending ids of every client whose masked input arrived (U3).</summary>
public sealed record SurvivorListMessage(string SessionId, long Round, int Recipient, IReadOnlyList<int> Survivors)
    : SecAggServerMessage(SessionId, Round, Recipient)
{
    public override SecAggStage Stage => SecAggStage.ConsistencyCheck;
}
