namespace Confide.Protocol.SecureAggregation;

/// <summary>A message arrived for a stage other than the current one: too early, too late, or after the round ended.</summary>
public sealed class SecAggOutOfOrderException : SecAggProtocolException
{
    public SecAggOutOfOrderException(SecAggStage current, SecAggStage messageStage, string what)
        : base(current, Describe(current, messageStage, what))
    {
        MessageStage = messageStage;
    }

    /// <summary>A refusal whose timing <paramref name="when"/> describes (e.g. a stage closed but not yet left).</summary>
    public SecAggOutOfOrderException(SecAggStage current, SecAggStage messageStage, string what, string when)
        : base(current, $"{what} for stage {messageStage} refused: {when}.")
    {
        MessageStage = messageStage;
    }

    /// <summary>The stage the refused message belongs to.</summary>
    public SecAggStage MessageStage { get; }

    private static string Describe(SecAggStage current, SecAggStage messageStage, string what)
    {
        string when = SecAggStages.IsTerminal(current) ? $"after the round ended ({current})"
            : messageStage < current ? $"late: stage {messageStage} is already closed, current stage is {current}"
            : $"early: current stage is {current}, expected next {SecAggStages.Next(current)}";
        return $"{what} for stage {messageStage} refused: {when}.";
    }
}
