namespace Confide.Updates;

/// <summary>
/// The outcome of validating a batch: every update is in exactly one of <see cref="Accepted"/> and <see cref="Rejected"/>,
/// both in batch order.
/// </summary>
/// <param name="Accepted">The updates that may reach an aggregator.</param>
/// <param name="AcceptedIndices">The batch positions of <paramref name="Accepted"/>, ascending.</param>
/// <param name="Rejected">The refused updates with their reasons.</param>
public sealed record UpdateValidationResult(
    IReadOnlyList<ClientUpdate> Accepted,
    IReadOnlyList<int> AcceptedIndices,
    IReadOnlyList<RejectedUpdate> Rejected)
{
    /// <summary>Whether every update was accepted.</summary>
    public bool AllAccepted => Rejected.Count == 0;
}
