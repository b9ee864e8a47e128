using Confide.Parameters;
using Confide.Privacy;
using Confide.Updates;

namespace Confide.Protocol.Rounds;

/// <summary>
/// A finished round: who took part, whose update was accepted, rejected (with the reason) or missing (stragglers), what
/// the aggregator flagged, the resulting global model and the privacy spent so far.
/// </summary>
/// <param name="Round">The round number.</param>
/// <param name="Aggregated">True when enough updates arrived and the model moved; false when the round failed.</param>
/// <param name="FailureReason">Why the round failed, when it did.</param>
/// <param name="Participants">The sampled clients.</param>
/// <param name="Accepted">Accepted client ids with their sample counts, in aggregation order (ordinal by id).</param>
/// <param name="Rejected">Rejected updates with reasons (the index is the order of arrival).</param>
/// <param name="Stragglers">Participants that sent nothing before the deadline.</param>
/// <param name="Flagged">Client ids the aggregator flagged or left out, with its reason.</param>
/// <param name="Model">The global model after the round (a copy).</param>
/// <param name="Privacy">Privacy spent after the round, or null without DP.</param>
/// <param name="StartedAt">When the round started.</param>
/// <param name="CompletedAt">When it completed.</param>
public sealed record RoundResult(
    long Round,
    bool Aggregated,
    string? FailureReason,
    IReadOnlyList<string> Participants,
    IReadOnlyList<(string ClientId, long SampleCount)> Accepted,
    IReadOnlyList<RejectedUpdate> Rejected,
    IReadOnlyList<string> Stragglers,
    IReadOnlyList<(string ClientId, string Reason)> Flagged,
    ModelParameters Model,
    PrivacySpent? Privacy,
    DateTimeOffset StartedAt,
    DateTimeOffset CompletedAt);
