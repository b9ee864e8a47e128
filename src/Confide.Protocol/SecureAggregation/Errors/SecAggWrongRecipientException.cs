namespace Confide.Protocol.SecureAggregation;

/// <summary>A message or share addressed to one client was delivered to another.</summary>
public sealed class SecAggWrongRecipientException(SecAggStage stage, int expected, int actual, string message)
    : SecAggProtocolException(stage, message)
{
    /// <summary>The client that received it.</summary>
    public int Expected { get; } = expected;

    /// <summary>The client it was addressed to.</summary>
    public int Actual { get; } = actual;
}
