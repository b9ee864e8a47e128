using Confide.Aggregation;

namespace Confide.Privacy;

/// <summary>What one DP-FedAvg round produced.</summary>
/// <param name="Result">The noisy average (noisy sum / m), every input selected, and flags for client-clipped updates that were over the bound.</param>
/// <param name="PreClipNorms">Each update's L2 norm as received, in input order.</param>
/// <param name="ClipNorm">The clip norm used this round.</param>
/// <param name="NextClipNorm">The clip norm for the next round (equal to <paramref name="ClipNorm"/> unless clipping is adaptive).</param>
/// <param name="Spent">The ε spent after this round, at the ledger's δ.</param>
public sealed record DpFedAvgRound(AggregationResult Result, IReadOnlyList<double> PreClipNorms, double ClipNorm, double NextClipNorm, PrivacySpent Spent);
