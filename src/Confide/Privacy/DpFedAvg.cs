using Confide.Aggregation;
using Confide.Aggregation.Internal;
using Confide.Parameters;

namespace Confide.Privacy;

/// <summary>
/// DP-FedAvg (McMahan, Ramage, Talwar, Zhang, "Learning Differentially Private Recurrent Language Models", ICLR 2018):
/// clip each client update to L2 norm C, sum, add N(0, z²C²) to the sum once, and divide by the expected number of
/// clients m (the fixed-denominator estimator, so that the number of participants is not released). Accounting is
/// the Poisson-subsampled Gaussian at q = m/N, charged to a <see cref="PrivacyLedger"/> <b>before</b> any noise is drawn.
/// Both placements of clipping are offered, as in Flower: <see cref="ClippingPlacement.Server"/> and
/// <see cref="ClippingPlacement.Client"/>; optionally with adaptive clipping (Andrew et al. 2021).
/// </summary>
/// <remarks>
/// Client weights are ignored: the estimator weighs every client equally (weights by sample counts would raise the
/// sensitivity). With client-side clipping the server still checks each norm; an update over C (beyond float rounding)
/// is clipped by the server and flagged, so a faulty client cannot break the sensitivity bound.
/// The guarantee assumes clients are sampled by Poisson sampling at rate q; fixed-size sampling is not covered.
/// </remarks>
public sealed class DpFedAvg : IAggregator
{
    /// <summary>How far above C a client-clipped update's norm may be (float rounding) before the server clips and flags it.</summary>
    internal const double ClientNormSlack = 1e-5;

    /// <summary>How far below C a "norm &gt; C" report's update may be before it is flagged (float rounding of a clipped update is ~1e-7).</summary>
    internal const double InconsistentReportSlack = 1e-3;

    private readonly IGaussianNoise _noise;
    private readonly PrivacyLedger _ledger;
    private readonly AdaptiveClipping? _adaptive;
    private readonly double _fixedClipNorm;

    /// <summary>Builds the aggregator; every round is charged to <paramref name="ledger"/>.</summary>
    public DpFedAvg(DpFedAvgOptions options, IGaussianNoise noise, PrivacyLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(ledger);
        Options = options;
        _noise = noise;
        _ledger = ledger;
        _adaptive = options.AdaptiveClipping is null ? null : new AdaptiveClipping(options.AdaptiveClipping);
        _fixedClipNorm = options.ClipNorm;
    }

    /// <inheritdoc/>
    public string Name => "dp-fedavg";

    /// <summary>The settings.</summary>
    public DpFedAvgOptions Options { get; }

    /// <summary>The ledger charged each round.</summary>
    public PrivacyLedger Ledger => _ledger;

    /// <summary>The clip norm the next round will use.</summary>
    public double CurrentClipNorm => _adaptive?.ClipNorm ?? _fixedClipNorm;

    /// <summary>
    /// Restores the clip norm saved with the last completed round (adaptive clipping: see
    /// <see cref="AdaptiveClipping.Restore"/>). With a fixed clip norm the value must equal it.
    /// </summary>
    /// <exception cref="ArgumentException">A fixed clip norm and another value.</exception>
    public void RestoreClipNorm(double clipNorm)
    {
        if (_adaptive is null)
        {
            if (clipNorm != _fixedClipNorm)
            {
                throw new ArgumentException($"The saved clip norm {clipNorm:G6} differs from the fixed clip norm {_fixedClipNorm:G6}; the run was started with other DP settings.", nameof(clipNorm));
            }

            return;
        }

        _adaptive.Restore(clipNorm);
    }

    /// <summary>The mechanism name recorded in the ledger.</summary>
    public string MechanismName => _adaptive is null ? "dp-fedavg" : "dp-fedavg+adaptive-clipping";

    /// <summary>
    /// The adaptive-clipping step (Andrew et al. 2021) from a count the server learns only as a total: under secure
    /// aggregation each client's "norm ≤ C" bit travels inside the secure sum, so the server holds
    /// <paramref name="countAtMostClipNorm"/> of <paramref name="reports"/> contributors and nothing per client. Adds
    /// N(0, σ_b²) to the count and moves C exactly as <see cref="AggregateRound"/> does; call it once per aggregated round,
    /// after the round was charged (the ledger's effective noise multiplier already covers this release).
    /// </summary>
    /// <returns>The noisy fraction b̄ used for the step.</returns>
    /// <exception cref="InvalidOperationException">Adaptive clipping is not configured.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The count is negative or exceeds the reports.</exception>
    public double UpdateClipNorm(int countAtMostClipNorm, int reports)
    {
        if (_adaptive is null)
        {
            throw new InvalidOperationException("The clip norm is fixed: adaptive clipping is not configured, so there is no clip-norm step.");
        }

        return _adaptive.Update(countAtMostClipNorm, reports, Options.ExpectedClientsPerRound, _noise);
    }

    /// <summary>
    /// Client side of <see cref="ClippingPlacement.Client"/>: clips the update in place to <paramref name="clipNorm"/> (the
    /// server's current C). With adaptive clipping the client also reports whether <c>PreClipNorm ≤ clipNorm</c>.
    /// </summary>
    public static ClipReport ClipOnClient(Span<float> update, double clipNorm) => L2Clipping.Clip(update, clipNorm);

    /// <summary>Client side of <see cref="ClippingPlacement.Client"/> with per-layer clipping: each of the L tensors to C/√L.</summary>
    public static LayerClipReport ClipOnClient(ModelParameters update, double clipNorm) => L2Clipping.ClipPerLayer(update, clipNorm);

    /// <summary>Runs a round as the next round of the ledger, ignoring <paramref name="weights"/> (DP-FedAvg weighs clients equally).</summary>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (weights.Length != updates.Count)
        {
            throw new ArgumentException($"There are {weights.Length} weights for {updates.Count} updates; expected one per update.", nameof(weights));
        }

        return AggregateRound(_ledger.NextRound, updates).Result;
    }

    /// <summary>
    /// One round: charge the ledger, clip (server placement) or verify (client placement), sum, add noise, divide by m,
    /// and with adaptive clipping update C.
    /// </summary>
    /// <param name="round">The round number recorded in the ledger.</param>
    /// <param name="updates">The updates received this round, all of one length.</param>
    /// <param name="normAtMostClipNorm">With client-side adaptive clipping: each client's report of whether its pre-clip
    /// norm was at most C. Ignored otherwise (the server sees the norms itself).</param>
    /// <exception cref="PrivacyBudgetExceededException">The round would exceed the budget; nothing was charged and no noise was drawn.</exception>
    /// <exception cref="ArgumentException">No updates, lengths differ, a value is not finite, or client reports are missing.</exception>
    public DpFedAvgRound AggregateRound(long round, IReadOnlyList<ReadOnlyMemory<float>> updates, IReadOnlyList<bool>? normAtMostClipNorm = null)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
        {
            throw new ArgumentException("DP-FedAvg needs at least one update to know the vector length.", nameof(updates));
        }

        int length = updates[0].Length;
        for (int i = 1; i < updates.Count; i++)
        {
            if (updates[i].Length != length)
            {
                throw new ArgumentException($"Update {i} has {updates[i].Length} values but update 0 has {length}.", nameof(updates));
            }
        }

        if (ClientReportsClipIndicator && (normAtMostClipNorm is null || normAtMostClipNorm.Count != updates.Count))
        {
            throw new ArgumentException("Client-side adaptive clipping needs one 'norm ≤ C' report per update.", nameof(normAtMostClipNorm));
        }

        // Every input is checked before anything is added or charged.
        for (int i = 0; i < updates.Count; i++)
        {
            if (VectorKernels.IndexOfNonFinite(updates[i].Span) >= 0)
            {
                throw new ArgumentException($"Update {i} holds a NaN or infinite value.", nameof(updates));
            }
        }

        var sum = StartSum(length);
        for (int i = 0; i < updates.Count; i++)
        {
            sum.Add(updates[i].Span, ClientReportsClipIndicator ? normAtMostClipNorm![i] : null);
        }

        return sum.Complete(round);
    }

    /// <summary>
    /// Starts a round fed one update at a time (see <see cref="DpFedAvgSum"/>): the same computation as
    /// <see cref="AggregateRound"/>, holding one running sum of <paramref name="length"/> values instead of every update.
    /// </summary>
    /// <exception cref="ArgumentException">Per-layer clipping is configured for another length.</exception>
    public DpFedAvgSum StartSum(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return new DpFedAvgSum(this, length);
    }

    /// <summary>True when each update comes with its client's 'norm ≤ C' report: adaptive clipping with client-side clipping.</summary>
    internal bool ClientReportsClipIndicator => _adaptive is not null && Options.Placement == ClippingPlacement.Client;

    internal IGaussianNoise Noise => _noise;

    /// <summary>The adaptive-clipping step at the end of a round, from the server-seen norms or the clients' reports; nothing without adaptive clipping.</summary>
    internal void StepClipNorm(IReadOnlyList<double> preClipNorms, int reportsAtMostClipNorm)
    {
        if (_adaptive is null)
        {
            return;
        }

        if (ClientReportsClipIndicator)
        {
            _adaptive.Update(reportsAtMostClipNorm, preClipNorms.Count, Options.ExpectedClientsPerRound, _noise);
        }
        else
        {
            _adaptive.Update(preClipNorms, Options.ExpectedClientsPerRound, _noise);
        }
    }
}
