namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The base of every protocol-level failure in a secure-aggregation round. The state machine that throws it is left
/// in a consistent state: either unchanged (the offending message is simply refused) or <see cref="SecAggStage.Aborted"/>
/// when continuing would be unsafe.
/// </summary>
public abstract class SecAggProtocolException : Exception
{
    protected SecAggProtocolException(SecAggStage stage, string message)
        : base(message)
    {
        Stage = stage;
    }

    /// <summary>The stage the state machine was in when the error was detected.</summary>
    public SecAggStage Stage { get; }
}
