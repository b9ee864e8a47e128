namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// A signature is missing or does not verify under the signer's Ed25519 identity key: advertised keys or a survivor-list signature.
/// </summary>
public sealed class SecAggSignatureException(SecAggStage stage, int signer, string message)
    : SecAggProtocolException(stage, message)
{
    /// <summary>The client whose signature failed.</summary>
    public int Signer { get; } = signer;
}
