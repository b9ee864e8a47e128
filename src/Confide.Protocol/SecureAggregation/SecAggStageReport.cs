namespace Confide.Protocol.SecureAggregation;

/// <summary>How one stage of a networked round closed.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="Expected">Clients that were still in the round when the stage opened.</param>
/// <param name="Received">Clients whose message for the stage was accepted.</param>
/// <param name="Dropped">Expected clients that sent no accepted message before the stage closed (ascending ids).</param>
/// <param name="ClosedAt">When the stage closed.</param>
/// <param name="ByDeadline">True when the deadline closed it; false when every expected message was in.</param>
public sealed record SecAggStageReport(SecAggStage Stage, int Expected, int Received, IReadOnlyList<int> Dropped, DateTimeOffset ClosedAt, bool ByDeadline);
