using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Federated Averaging fed one update at a time: the weighted mean Σ wᵢ·xᵢ / Σ wᵢ, with a running sum instead of a
/// list of updates, so a server holds one model-sized accumulator however many clients report, and can let go of each
/// update as soon as it has been added.
/// </summary>
/// <remarks>
/// McMahan, Moore, Ramage, Hampson and Agüera y Arcas, "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data", AISTATS 2017 (the server step of Algorithm 1).
/// <para>
/// The sum is kept in double and rounded to float once, at <see cref="Complete"/>: the order in which updates arrive
/// changes the result only at double precision, which after the rounding to float almost never shows (a coordinate
/// would have to lie within a few double ulps of a float rounding boundary). <see cref="FedAvg"/>, the batch form,
/// sums float coefficients in float and can differ from this in the last bits of a float. Like it, this is not
/// robust: one update can move the mean arbitrarily far.
/// </para>
/// <para>Not thread-safe. The accumulator is reused from one round to the next.</para>
/// </remarks>
public sealed class StreamingFedAvg
{
    /// <summary>
    /// The largest weight: 2^53, the largest integer (sample count) a double holds exactly. It also keeps the sums
    /// finite: |Σ wᵢ·xᵢ| ≤ 2^31 updates · 2^53 · 3.4e38 ≈ 1e64, far below double's range.
    /// </summary>
    public const double MaxWeight = 9007199254740992.0;

    private readonly double[] _sum;

    /// <summary>Creates an empty accumulator for updates of <paramref name="length"/> values.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is not positive.</exception>
    public StreamingFedAvg(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        _sum = new double[length];
    }

    /// <summary>The length every update must have.</summary>
    public int Length => _sum.Length;

    /// <summary>Updates added since the last <see cref="Complete"/> or <see cref="Clear"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Σ wᵢ over the updates added.</summary>
    public double TotalWeight { get; private set; }

    /// <summary>Adds wᵢ·xᵢ to the running sum. A refused update leaves the sum as it was.</summary>
    /// <exception cref="ArgumentException">The length differs, a value is NaN or infinite, or the weight is not in (0, <see cref="MaxWeight"/>].</exception>
    public void Add(ReadOnlySpan<float> update, double weight)
    {
        if (update.Length != _sum.Length)
        {
            throw new ArgumentException($"The update has {update.Length} values; expected {_sum.Length}.", nameof(update));
        }

        if (!(weight > 0 && weight <= MaxWeight))
        {
            throw new ArgumentException($"The weight is {weight}; expected a positive number no larger than 2^53 (normally the sample count).", nameof(weight));
        }

        // Checked before adding: a NaN in the sum could not be taken out again.
        int bad = VectorKernels.IndexOfNonFinite(update);
        if (bad >= 0)
        {
            throw new ArgumentException($"The update has the non-finite value {update[bad]} at index {bad}; expected finite values.", nameof(update));
        }

        VectorKernels.MultiplyAddWidening(update, weight, _sum);
        Count++;
        TotalWeight += weight;
    }

    /// <summary>Returns the weighted mean of the updates added and empties the accumulator for the next round.</summary>
    /// <exception cref="InvalidOperationException">No update was added.</exception>
    public float[] Complete()
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("FedAvg needs at least one update; none was added.");
        }

        // The sums cannot overflow (see MaxWeight) and a weighted mean of finite floats lies within their range, so
        // every coordinate is finite without a check.
        var mean = GC.AllocateUninitializedArray<float>(_sum.Length);
        double total = TotalWeight;
        for (int i = 0; i < mean.Length; i++)
        {
            mean[i] = (float)(_sum[i] / total);
        }

        Clear();
        return mean;
    }

    /// <summary>Discards what was added.</summary>
    public void Clear()
    {
        Array.Clear(_sum);
        Count = 0;
        TotalWeight = 0;
    }
}
