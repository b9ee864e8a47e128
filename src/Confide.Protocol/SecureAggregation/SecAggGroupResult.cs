using Confide.Aggregation;

namespace Confide.Protocol.SecureAggregation;

/// <summary>The outcome of <see cref="SecAggGroups.Run"/>.</summary>
/// <param name="Aggregate">The robust aggregator's result over the group means. Its Selected and Flagged indices are group numbers
/// (positions in <paramref name="Groups"/>); its Scores follow the order of the groups that completed.</param>
/// <param name="Groups">The client ids of each group.</param>
/// <param name="GroupRounds">Each group's secure-aggregation round (a group that aborted has a null mean and is left out of the aggregate).</param>
public sealed record SecAggGroupResult(AggregationResult Aggregate, IReadOnlyList<int[]> Groups, IReadOnlyList<SecAggMeanResult> GroupRounds);
