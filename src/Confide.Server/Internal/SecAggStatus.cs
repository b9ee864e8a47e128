namespace Confide.Server.Internal;

/// <summary>What <c>GetStatus</c> shows of a running secure round; holds no secret.</summary>
/// <param name="Stage">The stage name (see <see cref="SecAggRoundHost.StageName"/>, plus "reconstructing").</param>
/// <param name="Received">Messages the stage has accepted.</param>
/// <param name="Expected">Messages the stage waits for.</param>
/// <param name="Deadline">When the stage closes at the latest, or null when no stage is open.</param>
internal sealed record SecAggStatus(string Stage, int Received, int Expected, DateTimeOffset? Deadline);
