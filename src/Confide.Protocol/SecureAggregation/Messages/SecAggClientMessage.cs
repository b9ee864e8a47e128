namespace Confide.Protocol.SecureAggregation;

/// <summary>A message from one client to the server. Every message names its session, round and sender so that a replay from
/// another round is recognised.</summary>
public abstract record SecAggClientMessage(string SessionId, long Round, int Sender)
{
    /// <summary>The server stage this message belongs to.</summary>
    public abstract SecAggStage Stage { get; }
}
