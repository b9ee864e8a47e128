namespace Confide.Protocol.Rounds;

/// <summary>A round that has started: its number, its sampled participants and its deadline.</summary>
public sealed record RoundTicket(long Round, IReadOnlyList<string> Participants, DateTimeOffset StartedAt, DateTimeOffset Deadline);
