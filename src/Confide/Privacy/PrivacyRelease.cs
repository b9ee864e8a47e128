namespace Confide.Privacy;

/// <summary>
/// One DP release recorded in a <see cref="PrivacyLedger"/>: in round <see cref="Round"/>, <see cref="Steps"/> applications
/// of the mechanism named <see cref="Mechanism"/>. It is either the subsampled Gaussian at rate q and noise multiplier σ
/// (<see cref="Entry"/>) or the distributed discrete Gaussian (<see cref="Distributed"/>; Kairouz, Liu, Steinke 2021).
/// </summary>
public sealed record PrivacyRelease
{
    /// <summary>Validates and builds a release of the subsampled Gaussian mechanism.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The round or steps is negative, q is outside [0, 1], or σ is not positive and finite.</exception>
    /// <exception cref="ArgumentException">The mechanism name is empty.</exception>
    public PrivacyRelease(long round, string mechanism, double sampleRate, double noiseMultiplier, long steps = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        ArgumentException.ThrowIfNullOrWhiteSpace(mechanism);
        Round = round;
        Mechanism = mechanism;
        Entry = new SubsampledGaussianSteps(sampleRate, noiseMultiplier, steps);
    }

    /// <summary>Validates and builds a release of the distributed discrete Gaussian mechanism.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The round is negative.</exception>
    /// <exception cref="ArgumentException">The mechanism name is empty.</exception>
    public PrivacyRelease(long round, string mechanism, DistributedDiscreteGaussianSteps distributed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        ArgumentException.ThrowIfNullOrWhiteSpace(mechanism);
        ArgumentNullException.ThrowIfNull(distributed);
        Round = round;
        Mechanism = mechanism;
        Distributed = distributed;
    }

    /// <summary>The federated round (or other sequence number) of the release.</summary>
    public long Round { get; }

    /// <summary>What was released, e.g. "dp-fedavg", "dp-fedavg+adaptive-clipping" or "distributed-dp+secagg".</summary>
    public string Mechanism { get; }

    /// <summary>The sampling rate q.</summary>
    public double SampleRate => Entry?.SampleRate ?? Distributed!.SampleRate;

    /// <summary>
    /// The noise multiplier σ (for adaptive clipping: the effective σ of the combined mechanism; for the distributed
    /// discrete Gaussian: √n·σ_client/Δ₂, the continuous multiplier it approaches, for display only).
    /// </summary>
    public double NoiseMultiplier => Entry?.NoiseMultiplier ?? Distributed!.EffectiveNoiseMultiplier;

    /// <summary>The number of steps.</summary>
    public long Steps => Entry?.Steps ?? Distributed!.Steps;

    /// <summary>The subsampled-Gaussian accountant entry, or null for a distributed discrete Gaussian release.</summary>
    public SubsampledGaussianSteps? Entry { get; }

    /// <summary>The distributed discrete Gaussian entry, or null for a subsampled-Gaussian release.</summary>
    public DistributedDiscreteGaussianSteps? Distributed { get; }

    /// <inheritdoc/>
    public override string ToString() => Distributed is { } d
        ? $"round {Round}: {Mechanism} (q = {SampleRate:G6}, σ_client = {d.ClientSigma:G6} quanta, n = {d.NoiseShares}, Δ₂ = {d.L2Sensitivity:G6}, d = {d.Dimension}, steps = {Steps})"
        : $"round {Round}: {Mechanism} (q = {SampleRate:G6}, σ = {NoiseMultiplier:G6}, steps = {Steps})";

    /// <summary>Adds this release's RDP at each order to <paramref name="total"/>.</summary>
    internal void AddRdp(ReadOnlySpan<double> orders, Span<double> total)
    {
        if (Distributed is { } d)
        {
            DistributedDiscreteGaussian.AddRdp(d, orders, total);
            return;
        }

        var rdp = RdpAccountant.ComputeRdp([Entry!], orders);
        for (int i = 0; i < rdp.Length; i++)
        {
            total[i] += rdp[i];
        }
    }
}
