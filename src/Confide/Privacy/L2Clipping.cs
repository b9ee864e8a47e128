using System.Numerics.Tensors;
using Confide.Parameters;

namespace Confide.Privacy;

/// <summary>
/// L2 clipping of model updates, the sensitivity bound behind DP-FedAvg (McMahan, Ramage, Talwar, Zhang, "Learning
/// Differentially Private Recurrent Language Models", ICLR 2018): Δ ← Δ · min(1, C/‖Δ‖₂), globally or per tensor.
/// </summary>
/// <remarks>
/// Norms are accumulated in double. The scale carries a relative margin of 2⁻²⁰ so that float rounding of the scaled
/// values cannot leave the clipped norm above C: the sensitivity bound holds exactly, at a cost of one part in a million.
/// </remarks>
public static class L2Clipping
{
    private const double Margin = 1.0 - (1.0 / (1 << 20));

    /// <summary>The L2 norm of <paramref name="values"/>, accumulated in double.</summary>
    public static double Norm(ReadOnlySpan<float> values)
    {
        // Blocks of float squares summed in float are exact enough per block; the blocks add in double.
        double sum = 0;
        const int block = 1024;
        for (int i = 0; i < values.Length; i += block)
        {
            var part = values.Slice(i, Math.Min(block, values.Length - i));
            sum += TensorPrimitives.SumOfSquares(part);
        }

        return Math.Sqrt(sum);
    }

    /// <summary>Scales <paramref name="update"/> in place to L2 norm at most <paramref name="clipNorm"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">C is not a positive finite number.</exception>
    /// <exception cref="ArgumentException">The update holds a NaN or infinity.</exception>
    public static ClipReport Clip(Span<float> update, double clipNorm)
    {
        CheckClipNorm(clipNorm);
        double norm = Norm(update);
        if (!double.IsFinite(norm))
        {
            throw new ArgumentException("The update holds a NaN or infinite value; it cannot be clipped.", nameof(update));
        }

        if (norm <= clipNorm)
        {
            return new ClipReport(norm, 1);
        }

        double scale = clipNorm / norm * Margin;
        TensorPrimitives.Multiply(update, (float)scale, update);
        return new ClipReport(norm, scale);
    }

    /// <summary>
    /// Clips each tensor of <paramref name="update"/> to its own bound: <paramref name="layerClipNorms"/>[l] for tensor l in
    /// layout order. The whole update's sensitivity is then √(Σ Cₗ²).
    /// </summary>
    /// <exception cref="ArgumentException">The number of bounds differs from the number of tensors, or the update holds a NaN or infinity.</exception>
    public static LayerClipReport ClipPerLayer(ModelParameters update, IReadOnlyList<double> layerClipNorms)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(layerClipNorms);
        var tensors = update.Layout.Tensors;
        if (layerClipNorms.Count != tensors.Count)
        {
            throw new ArgumentException($"There are {layerClipNorms.Count} clip norms for {tensors.Count} tensors; expected one per tensor.", nameof(layerClipNorms));
        }

        var pre = new double[tensors.Count];
        double totalSquares = 0, boundSquares = 0;
        for (int l = 0; l < tensors.Count; l++)
        {
            CheckClipNorm(layerClipNorms[l]);
            var report = Clip(update.Tensor(tensors[l]), layerClipNorms[l]);
            pre[l] = report.PreClipNorm;
            totalSquares += report.PreClipNorm * report.PreClipNorm;
            boundSquares += layerClipNorms[l] * layerClipNorms[l];
        }

        return new LayerClipReport(Math.Sqrt(totalSquares), pre, [.. layerClipNorms], Math.Sqrt(boundSquares));
    }

    /// <summary>Per-layer clipping with the total bound <paramref name="clipNorm"/> split equally: Cₗ = C/√L.</summary>
    public static LayerClipReport ClipPerLayer(ModelParameters update, double clipNorm)
    {
        ArgumentNullException.ThrowIfNull(update);
        CheckClipNorm(clipNorm);
        int layers = update.Layout.Tensors.Count;
        double each = clipNorm / Math.Sqrt(Math.Max(1, layers));
        return ClipPerLayer(update, Enumerable.Repeat(each, layers).ToArray());
    }

    internal static void CheckClipNorm(double clipNorm)
    {
        if (!(clipNorm > 0) || double.IsPositiveInfinity(clipNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "The clip norm C must be a positive finite number.");
        }
    }
}
