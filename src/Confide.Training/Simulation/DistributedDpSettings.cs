namespace Confide.Training.Simulation;

/// <summary>
/// The distributed-DP parameters of a run (<see cref="DpPlacement.Distributed"/>): the quantizer scale, each client's
/// discrete Gaussian, and the sensitivity they are accounted with (Kairouz, Liu, Steinke 2021). Magnitudes in quanta.
/// </summary>
/// <param name="Scale">s: quanta per unit of update (a power of two chosen so the noisy sum fits Z_{2^ModulusBits}).</param>
/// <param name="ModulusBits">k of Z_{2^k}.</param>
/// <param name="ClientSigma">σ of each client's N_Z(0, σ²), in quanta (σ² is an integer: the calibrated σ² rounded up).</param>
/// <param name="MinimumSurvivors">n_min: the surviving clients the noise is calibrated for; a round with fewer is charged for its actual count.</param>
/// <param name="Beta">The conditional-rounding β (0: unconditional).</param>
/// <param name="L2Sensitivity">Δ₂ after rounding, in quanta.</param>
/// <param name="L1Sensitivity">Δ₁ after rounding, in quanta.</param>
/// <param name="Dimension">d: the number of noised coordinates (the model's weights).</param>
public sealed record DistributedDpSettings(
    double Scale, int ModulusBits, double ClientSigma, int MinimumSurvivors, double Beta, double L2Sensitivity, double L1Sensitivity, int Dimension);
