namespace Confide.Protocol.Rounds;

/// <summary>Where a <see cref="RoundCoordinator"/> is.</summary>
public enum RoundStage
{
    /// <summary>No round is running; the next starts when enough clients are connected.</summary>
    WaitingForClients,

    /// <summary>A round is collecting updates from its participants until its deadline.</summary>
    Collecting,

    /// <summary>The run has stopped; see <see cref="RoundCoordinator.StopReason"/>.</summary>
    Finished,
}
