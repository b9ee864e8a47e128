namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// A message is malformed or breaks a protocol rule not covered by a more specific error: unknown sender, a peer that is
/// not a neighbour, a wrong vector length, a value outside Z_{2^k}, a duplicate entry.
/// </summary>
public sealed class SecAggInvalidMessageException(SecAggStage stage, string message)
    : SecAggProtocolException(stage, message);
