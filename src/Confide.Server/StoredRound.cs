namespace Confide.Server;

/// <summary>One round as recorded in the state store (for status, audits and tests).</summary>
/// <param name="Round">The round number.</param>
/// <param name="Status">"collecting", "aggregated" or "failed".</param>
/// <param name="Participants">The sampled clients.</param>
/// <param name="Stragglers">Participants that sent nothing in time (after completion).</param>
/// <param name="Accepted">Accepted client ids.</param>
/// <param name="Rejected">Rejected client ids with reasons.</param>
/// <param name="FailureReason">Why the round failed, when it did.</param>
/// <param name="Epsilon">ε spent after the round, or null without DP.</param>
/// <param name="StartedAt">Start time.</param>
/// <param name="CompletedAt">Completion time, or null while collecting.</param>
public sealed record StoredRound(
    long Round,
    string Status,
    IReadOnlyList<string> Participants,
    IReadOnlyList<string> Stragglers,
    IReadOnlyList<string> Accepted,
    IReadOnlyList<(string ClientId, string Reason)> Rejected,
    string? FailureReason,
    double? Epsilon,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt);
