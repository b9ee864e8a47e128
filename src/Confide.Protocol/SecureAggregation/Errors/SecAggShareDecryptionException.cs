namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// An encrypted share failed AEAD authentication: it was tampered with, or it was bound to another session, round,
/// sender or receiver. The client aborts, since it can no longer rely on the server.
/// </summary>
public sealed class SecAggShareDecryptionException(SecAggStage stage, int sender, int receiver, string message)
    : SecAggProtocolException(stage, message)
{
    public int Sender { get; } = sender;

    public int Receiver { get; } = receiver;
}
