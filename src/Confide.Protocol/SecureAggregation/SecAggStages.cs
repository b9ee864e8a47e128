namespace Confide.Protocol.SecureAggregation;

/// <summary>The <c>current → expected next</c> transitions of <see cref="SecAggStage"/>.</summary>
public static class SecAggStages
{
    /// <summary>The stage that follows <paramref name="current"/> when it completes normally.</summary>
    /// <exception cref="InvalidOperationException">When <paramref name="current"/> is terminal.</exception>
    public static SecAggStage Next(SecAggStage current) => current switch
    {
        SecAggStage.AdvertiseKeys => SecAggStage.ShareKeys,
        SecAggStage.ShareKeys => SecAggStage.MaskedInputCollection,
        SecAggStage.MaskedInputCollection => SecAggStage.ConsistencyCheck,
        SecAggStage.ConsistencyCheck => SecAggStage.Unmasking,
        SecAggStage.Unmasking => SecAggStage.Completed,
        _ => throw new InvalidOperationException($"Stage {current} is terminal and has no next stage."),
    };

    /// <summary>True for <see cref="SecAggStage.Completed"/> and <see cref="SecAggStage.Aborted"/>.</summary>
    public static bool IsTerminal(SecAggStage stage) => stage is SecAggStage.Completed or SecAggStage.Aborted;
}
