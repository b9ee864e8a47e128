using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;
using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Norm bounding: every update whose L2 norm exceeds M is scaled down to norm M, then the inner aggregator runs on
/// the clipped updates.
/// </summary>
/// <remarks>
/// Sun, Kairouz, Suresh and McMahan, "Can You Really Backdoor Federated Learning?", arXiv:1911.07963, 2019.
/// <para>
/// Norms are computed in double, so no finite input can overflow them; a clipped update has norm M to within float32
/// rounding. Each clipped input is reported in <see cref="AggregationResult.Flagged"/> with its norm before clipping
/// (it still contributes, scaled). <see cref="AggregationResult.Selected"/> and <see cref="AggregationResult.Scores"/>
/// are the inner aggregator's, and its flags follow the clipping flags, in input order. Weights pass through
/// unchanged. With a <see cref="FedAvg"/> inner aggregator the clipping factors fold into the averaging coefficients
/// (one pass, no copies); otherwise the clipped updates are scaled copies in pooled buffers, made only for the updates it clips.
/// </para>
/// </remarks>
public sealed class NormBound : IAggregator
{
    private readonly IAggregator _inner;

    /// <summary>Creates the defence.</summary>
    /// <param name="maxNorm">The bound M on each update's L2 norm: positive and finite.</param>
    /// <param name="inner">The aggregator that combines the clipped updates.</param>
    public NormBound(double maxNorm, IAggregator inner)
    {
        if (!(double.IsFinite(maxNorm) && maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"norm-bound: M = {maxNorm.ToString(CultureInfo.InvariantCulture)}; expected a positive finite L2 norm bound.");
        }

        ArgumentNullException.ThrowIfNull(inner);
        MaxNorm = maxNorm;
        _inner = inner;
    }

    /// <summary>The bound M.</summary>
    public double MaxNorm { get; }

    /// <summary>The aggregator run after clipping.</summary>
    public IAggregator Inner => _inner;

    /// <inheritdoc/>
    public string Name => $"norm-bound({_inner.Name})";

    /// <inheritdoc/>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        UpdateBatch.Validate(Name, updates, weights);
        int n = updates.Count;
        var norms = new double[n];
        VectorKernels.For(n, (long)n * updates[0].Length, i => norms[i] = Math.Sqrt(VectorKernels.SquaredNorm(updates[i].Span)));

        var scale = new double[n];
        var flags = new List<FlaggedInput>();
        for (int i = 0; i < n; i++)
        {
            if (!double.IsFinite(norms[i]))
            {
                // A double sum of squared finite floats cannot overflow, so the input itself is non-finite.
                throw UpdateBatch.NonFiniteInput(Name, i, updates[i].Span);
            }

            scale[i] = 1;
            if (norms[i] > MaxNorm)
            {
                scale[i] = MaxNorm / norms[i];
                flags.Add(new FlaggedInput(
                    i,
                    $"L2 norm {norms[i].ToString("G6", CultureInfo.InvariantCulture)} above the bound {MaxNorm.ToString("G6", CultureInfo.InvariantCulture)}; clipped to it"));
            }
        }

        var inner = _inner is FedAvg ? ClippedMean(updates, weights, scale) : AggregateClipped(updates, weights, scale);
        var allFlags = flags.Concat(inner.Flagged).OrderBy(f => f.Index).ToList();
        return new AggregationResult(inner.Aggregate, inner.Selected, allFlags, inner.Scores);
    }

    /// <summary>FedAvg of the clipped updates in one pass: the clipping factors fold into the averaging coefficients.</summary>
    private AggregationResult ClippedMean(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights, double[] scale)
    {
        double total = 0;
        foreach (double w in weights)
        {
            total += w;
        }

        var coefficients = new float[updates.Count];
        for (int i = 0; i < coefficients.Length; i++)
        {
            coefficients[i] = (float)(weights[i] / total * scale[i]);
        }

        var aggregate = GC.AllocateUninitializedArray<float>(updates[0].Length);
        VectorKernels.WeightedSum(updates, coefficients, aggregate);
        int bad = VectorKernels.IndexOfNonFinite(aggregate);
        if (bad >= 0)
        {
            throw UpdateBatch.NonFiniteResult(Name, updates, bad);
        }

        return new AggregationResult(aggregate, FedAvg.AllIndices(updates.Count), []);
    }

    /// <summary>Runs the inner aggregator on clipped copies of the updates it must scale, in pooled buffers.</summary>
    private AggregationResult AggregateClipped(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights, double[] scale)
    {
        int dimension = updates[0].Length;
        var clipped = new ReadOnlyMemory<float>[updates.Count];
        var rented = new List<float[]>();
        try
        {
            for (int i = 0; i < updates.Count; i++)
            {
                if (scale[i] < 1)
                {
                    float[] buffer = ArrayPool<float>.Shared.Rent(dimension);
                    rented.Add(buffer);
                    TensorPrimitives.Multiply(updates[i].Span, (float)scale[i], buffer.AsSpan(0, dimension));
                    clipped[i] = buffer.AsMemory(0, dimension);
                }
                else
                {
                    clipped[i] = updates[i];
                }
            }

            return _inner.Aggregate(clipped, weights);
        }
        finally
        {
            foreach (float[] buffer in rented)
            {
                // Cleared: the buffers held client updates, and the pool is shared with the rest of the process.
                ArrayPool<float>.Shared.Return(buffer, clearArray: true);
            }
        }
    }
}
