namespace Confide.Protocol.SecureAggregation;

/// <summary>A message from the server to one client.</summary>
public abstract record SecAggServerMessage(string SessionId, long Round, int Recipient)
{
    /// <summary>The client stage this message drives.</summary>
    public abstract SecAggStage Stage { get; }
}
