using System.Numerics.Tensors;
using Confide.Aggregation;
using Confide.Aggregation.Internal;

namespace Confide.Privacy;

/// <summary>
/// One DP-FedAvg round (McMahan, Ramage, Talwar, Zhang, ICLR 2018) fed one update at a time: each update is clipped
/// to the round's C (or checked against it, with client-side clipping) and added to a running sum as it arrives; the
/// ledger is charged, the noise N(0, z²C²) drawn and the sum divided by m only at <see cref="Complete"/>. A server
/// holds one model-sized sum instead of every update. Made by <see cref="DpFedAvg.StartSum"/>.
/// </summary>
/// <remarks>
/// The sum is kept in double and rounded to float before the noise is added, so the order of arrival changes the
/// result only at double precision. Nothing is released before <see cref="Complete"/>, which charges the ledger before
/// any noise is drawn; a round that is abandoned (<see cref="Clear"/>) costs nothing. Not thread-safe; reused from one
/// round to the next.
/// </remarks>
public sealed class DpFedAvgSum
{
    private readonly DpFedAvg _owner;
    private readonly double[] _sum;
    private readonly List<double> _norms = [];
    private readonly List<FlaggedInput> _flagged = [];
    private int _reportsAtMostClipNorm;

    internal DpFedAvgSum(DpFedAvg owner, int length)
    {
        var layout = owner.Options.PerLayerClipping;
        if (layout is not null && length != layout.TotalLength)
        {
            throw new ArgumentException($"Updates have {length} values but the per-layer clipping layout has {layout.TotalLength}.", nameof(length));
        }

        _owner = owner;
        _sum = new double[length];
    }

    /// <summary>The length every update must have.</summary>
    public int Length => _sum.Length;

    /// <summary>Updates added since the last <see cref="Complete"/> or <see cref="Clear"/>.</summary>
    public int Count => _norms.Count;

    /// <summary>
    /// Clips (or checks) one update and adds it. Returns its position among this round's updates, which the flags of
    /// <see cref="Complete"/> refer to. A refused update leaves the sum as it was.
    /// </summary>
    /// <param name="update">The update as received.</param>
    /// <param name="normAtMostClipNorm">With client-side adaptive clipping, the client's report 1[‖Δ‖ ≤ C]; otherwise ignored.</param>
    /// <exception cref="ArgumentException">The length differs, a value is not finite, or a required report is missing.</exception>
    public int Add(ReadOnlySpan<float> update, bool? normAtMostClipNorm = null)
    {
        if (update.Length != _sum.Length)
        {
            throw new ArgumentException($"The update has {update.Length} values; expected {_sum.Length}.", nameof(update));
        }

        var options = _owner.Options;
        bool clientReports = _owner.ClientReportsClipIndicator;
        if (clientReports && normAtMostClipNorm is null)
        {
            throw new ArgumentException("Client-side adaptive clipping needs the client's 'norm ≤ C' report with each update.", nameof(normAtMostClipNorm));
        }

        double norm = L2Clipping.Norm(update);
        if (!double.IsFinite(norm))
        {
            throw new ArgumentException($"Update {Count} holds a NaN or infinite value.", nameof(update));
        }

        int index = Count;
        double clipNorm = _owner.CurrentClipNorm;
        if (clientReports)
        {
            // A client that clipped has sent a norm of C (to rounding); one well below C was not clipped, so its
            // "norm > C" report is false. The count still uses the report as sent (it cannot be verified the other
            // way), but the operator sees the inconsistency.
            if (normAtMostClipNorm == false && norm < clipNorm * (1 - DpFedAvg.InconsistentReportSlack))
            {
                _flagged.Add(new FlaggedInput(index, $"reported a pre-clip norm above C = {clipNorm:G6}, but the clipped update has norm {norm:G6}, well below C: the clip indicator is inconsistent"));
            }

            if (normAtMostClipNorm == true)
            {
                _reportsAtMostClipNorm++;
            }
        }

        var layout = options.PerLayerClipping;
        if (layout is null)
        {
            AddClipped(update, _sum, norm, clipNorm, index, "update");
        }
        else
        {
            // Per layer: each tensor to C/√L, so the whole update's norm is at most C.
            double layerClip = clipNorm / Math.Sqrt(layout.Tensors.Count);
            foreach (var spec in layout.Tensors)
            {
                var part = update.Slice(spec.Offset, spec.Length);
                AddClipped(part, _sum.AsSpan(spec.Offset, spec.Length), L2Clipping.Norm(part), layerClip, index, $"tensor '{spec.Name}'");
            }
        }

        _norms.Add(norm);
        return index;
    }

    /// <summary>
    /// Ends the round as round <paramref name="round"/> of the ledger: charges it, adds N(0, z²C²) to the sum once,
    /// divides by the expected number of clients m, and with adaptive clipping moves C. Empties the sum for the next round.
    /// </summary>
    /// <exception cref="InvalidOperationException">No update was added.</exception>
    /// <exception cref="PrivacyBudgetExceededException">The round would exceed the budget; nothing was charged, no noise was drawn, and the sum is kept.</exception>
    public DpFedAvgRound Complete(long round)
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("DP-FedAvg needs at least one update; none was added.");
        }

        var options = _owner.Options;
        double clipNorm = _owner.CurrentClipNorm;

        // The budget is checked before any noise is drawn: a refused round releases nothing.
        var spent = _owner.Ledger.Charge(new PrivacyRelease(round, _owner.MechanismName, options.SampleRate, options.NoiseMultiplier));

        var result = new float[_sum.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (float)_sum[i];
        }

        new GaussianMechanism(options.UpdateNoiseMultiplier, clipNorm).AddNoise(result, _owner.Noise);
        TensorPrimitives.Multiply(result, (float)(1.0 / options.ExpectedClientsPerRound), result);

        var norms = _norms.ToArray();
        _owner.StepClipNorm(norms, _reportsAtMostClipNorm);
        var selected = Enumerable.Range(0, norms.Length).ToArray();
        var flagged = _flagged.ToArray(); // in index order: each Add appends only its own flags
        Clear();
        return new DpFedAvgRound(new AggregationResult(result, selected, flagged, norms), norms, clipNorm, _owner.CurrentClipNorm, spent);
    }

    /// <summary>Discards what was added; nothing is charged.</summary>
    public void Clear()
    {
        Array.Clear(_sum);
        _norms.Clear();
        _flagged.Clear();
        _reportsAtMostClipNorm = 0;
    }

    private void AddClipped(ReadOnlySpan<float> part, Span<double> sum, double norm, double bound, int index, string what)
    {
        double scale = 1;
        if (norm > bound)
        {
            if (_owner.Options.Placement == ClippingPlacement.Client && norm > bound * (1 + DpFedAvg.ClientNormSlack))
            {
                _flagged.Add(new FlaggedInput(index, $"client-clipped {what} has norm {norm:G6} > bound {bound:G6}; clipped by the server"));
            }

            scale = bound / norm * (1 - (1.0 / (1 << 20)));
        }

        VectorKernels.MultiplyAddWidening(part, scale, sum);
    }
}
