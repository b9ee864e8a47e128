namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The server asked one client for both the self-mask share and the mask-key share of the same peer. Revealing both
/// would let the server strip every mask from that peer's input, so the client aborts and reveals nothing.
/// </summary>
public sealed class SecAggBothSharesRequestedException(SecAggStage stage, int peer, string message)
    : SecAggProtocolException(stage, message)
{
    /// <summary>The peer the server tried to unmask.</summary>
    public int Peer { get; } = peer;
}
