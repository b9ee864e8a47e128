namespace Confide.Training.Simulation;

/// <summary>Where DP noise is added in a simulated run.</summary>
public enum DpPlacement
{
    /// <summary>
    /// Central DP (DP-FedAvg, McMahan et al. 2018): the server adds Gaussian noise to the (securely) aggregated sum. The
    /// server sees the exact sum of the updates before it adds the noise.
    /// </summary>
    Central,

    /// <summary>
    /// Distributed DP (Kairouz, Liu, Steinke 2021): each client adds discrete Gaussian noise to its quantized update before
    /// secure-aggregation masking, so even the server sees only a noisy sum. Needs secure aggregation.
    /// </summary>
    Distributed,
}
