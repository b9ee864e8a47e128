namespace Confide.Protocol.SecureAggregation;

/// <summary>The outcome of <see cref="SecAggSimulation.RunWeightedMean"/>.</summary>
/// <param name="Round">The protocol run, with the raw sum in Z_{2^k} and the costs.</param>
/// <param name="Mean">Σ w·clip(x) / Σ w over the survivors, decoded from the sum; null when the round aborted.</param>
/// <param name="TotalWeight">Σ w over the survivors (recovered under the masks, not reported by clients in the clear); 0 when aborted.</param>
/// <param name="ErrorBound">The per-coordinate bound on |Mean − exact weighted mean of the clipped survivors' updates| from stochastic rounding (before float rounding of the output), not counting DP noise.</param>
/// <param name="NoiseSigma">The standard deviation of the DP noise in each coordinate of <paramref name="Mean"/> (0 without noise): √|U3| · σ_c / (s · Σw).</param>
public sealed record SecAggMeanResult(SecAggSimulationResult Round, float[]? Mean, long TotalWeight, double ErrorBound, double NoiseSigma = 0);
