using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// The weighted geometric median argmin_z Σ αᵢ‖z − xᵢ‖ (αᵢ = wᵢ / Σ w), computed by the smoothed Weiszfeld iteration
/// z ← Σ βᵢxᵢ / Σ βᵢ with βᵢ = αᵢ / max(ν, ‖z − xᵢ‖), starting from the weighted mean.
/// </summary>
/// <remarks>
/// Pillutla, Kakade and Harchaoui, "Robust Aggregation for Federated Learning" (RFA), arXiv:1912.13445, 2019
/// (IEEE Trans. Signal Processing 2022). Weiszfeld, "Sur le point pour lequel la somme des distances de n points
/// donnés est minimum", 1937.
/// <para>
/// The iteration stops after <see cref="GeometricMedianOptions.MaxIterations"/>, or once an iteration lowers the
/// objective by less than <see cref="GeometricMedianOptions.Tolerance"/> of its value; an iteration that would raise the
/// objective (possible only through rounding or the smoothing) is discarded and ends the loop.
/// The breakdown point is 1/2: fewer than half the weight in outliers cannot carry the result arbitrarily far.
/// </para>
/// <para>
/// Weighted. No input is excluded as a whole, so <see cref="AggregationResult.Selected"/> lists every input and nothing
/// is flagged; <see cref="AggregationResult.Scores"/> holds each input's distance ‖z − xᵢ‖ to the result, so outliers are
/// visible. Inputs must be finite (checked).
/// </para>
/// </remarks>
public sealed class GeometricMedian : IAggregator
{
    /// <summary>Creates the aggregator with <paramref name="options"/>, or the documented defaults.</summary>
    public GeometricMedian(GeometricMedianOptions? options = null) => Options = options ?? new GeometricMedianOptions();

    /// <summary>The iteration settings.</summary>
    public GeometricMedianOptions Options { get; }

    /// <inheritdoc/>
    public string Name => "geometric-median";

    /// <inheritdoc/>
    public AggregationResult Aggregate(IReadOnlyList<ReadOnlyMemory<float>> updates, ReadOnlySpan<double> weights)
    {
        int dimension = UpdateBatch.Validate(Name, updates, weights);
        UpdateBatch.RequireFinite(Name, updates);
        int n = updates.Count;

        double total = 0;
        foreach (double w in weights)
        {
            total += w;
        }

        var alpha = new double[n];
        for (int i = 0; i < n; i++)
        {
            alpha[i] = weights[i] / total;
        }

        var coefficients = new float[n];
        for (int i = 0; i < n; i++)
        {
            coefficients[i] = (float)alpha[i];
        }

        // Both buffers are fully overwritten by each weighted sum, so they need not be zeroed.
        var estimate = GC.AllocateUninitializedArray<float>(dimension);
        VectorKernels.WeightedSum(updates, coefficients, estimate);
        var distances = Distances(updates, estimate);
        double objective = Objective(alpha, distances);

        var next = GC.AllocateUninitializedArray<float>(dimension);
        var beta = new double[n];
        for (int iteration = 0; iteration < Options.MaxIterations; iteration++)
        {
            double betaSum = 0;
            for (int i = 0; i < n; i++)
            {
                beta[i] = alpha[i] / Math.Max(Options.Smoothing, distances[i]);
                betaSum += beta[i];
            }

            for (int i = 0; i < n; i++)
            {
                coefficients[i] = (float)(beta[i] / betaSum);
            }

            VectorKernels.WeightedSum(updates, coefficients, next);
            var nextDistances = Distances(updates, next);
            double nextObjective = Objective(alpha, nextDistances);
            if (nextObjective > objective)
            {
                break;
            }

            (estimate, next) = (next, estimate);
            distances = nextDistances;
            bool converged = objective - nextObjective <= Options.Tolerance * nextObjective;
            objective = nextObjective;
            if (converged)
            {
                break;
            }
        }

        return new AggregationResult(estimate, FedAvg.AllIndices(n), [], distances);
    }

    private static double[] Distances(IReadOnlyList<ReadOnlyMemory<float>> updates, float[] point)
    {
        var distances = new double[updates.Count];
        VectorKernels.For(updates.Count, (long)updates.Count * point.Length, i =>
            distances[i] = Math.Sqrt(VectorKernels.SquaredDistance(updates[i].Span, point)));
        return distances;
    }

    private static double Objective(double[] alpha, double[] distances)
    {
        double sum = 0;
        for (int i = 0; i < alpha.Length; i++)
        {
            sum += alpha[i] * distances[i];
        }

        return sum;
    }
}
