namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// What the server learns from a completed round: Σ_{u ∈ U3} x_u mod 2^k over the survivors U3, and how many clients
/// were still present after each stage.
/// </summary>
/// <param name="Sum">The exact sum of the survivors' inputs in Z_{2^k}.</param>
/// <param name="Survivors">U3, ascending: the clients whose inputs are in the sum.</param>
/// <param name="CountsByStage">Clients that completed AdvertiseKeys, ShareKeys, MaskedInputCollection, ConsistencyCheck and Unmasking (|U1| … |U5|).</param>
public sealed record SecAggResult(ulong[] Sum, IReadOnlyList<int> Survivors, IReadOnlyList<int> CountsByStage);
