namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The server showed this client a survivor list that differs from the one other clients signed, or from the one this
/// client signed itself (Bonawitz et al. 2017, ConsistencyCheck). The client aborts without revealing any share.
/// </summary>
public sealed class SecAggInconsistentSurvivorsException(SecAggStage stage, string message)
    : SecAggProtocolException(stage, message);
