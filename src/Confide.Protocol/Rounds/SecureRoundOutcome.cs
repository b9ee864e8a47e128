namespace Confide.Protocol.Rounds;

/// <summary>
/// What a secure-aggregation round handed back to the <see cref="RoundCoordinator"/>: the decoded sum of the survivors'
/// quantized, weighted, clipped updates (never an individual update), or why the round could not produce one.
/// </summary>
/// <param name="Contributors">The clients whose inputs are in the sum (the survivors U3).</param>
/// <param name="WeightedSum">Σ w·clip(x) over the contributors, decoded from Z_{2^k}; null when the round aborted.</param>
/// <param name="TotalWeight">Σ w over the contributors (recovered under the masks); 0 when aborted.</param>
/// <param name="Dropouts">Participants left out, each with the stage it missed.</param>
/// <param name="FailureReason">Why the protocol aborted (naming the stage and counts), or null when it completed.</param>
public sealed record SecureRoundOutcome(
    IReadOnlyList<string> Contributors,
    double[]? WeightedSum,
    long TotalWeight,
    IReadOnlyList<(string ClientId, string Reason)> Dropouts,
    string? FailureReason)
{
    /// <summary>
    /// With client-side adaptive clipping: Σ bᵢ over the contributors, where bᵢ = 1 when client i's update norm was at
    /// most the round's clip norm (decoded from the extra coordinate of the secure sum); null otherwise. A value outside
    /// [0, contributors] can only come from a client that sent something other than 0 or 1.
    /// </summary>
    public long? ClipIndicatorSum { get; init; }
}
