namespace Confide.Training.Models;

/// <summary>
/// Scratch buffers for one thread: forward and backward passes over a batch. Inputs are row-major
/// (<c>batch × InputShape.Size</c>); the loss is softmax cross-entropy with natural logarithms.
/// </summary>
public interface IModelWorkspace
{
    /// <summary>The largest batch this workspace accepts.</summary>
    int MaxBatch { get; }

    /// <summary>
    /// Runs the forward pass, writes the predicted class of each sample to <paramref name="predictions"/>
    /// (may be empty) and returns the <b>sum</b> of the per-sample losses.
    /// </summary>
    double Evaluate(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, Span<int> predictions);

    /// <summary>
    /// Overwrites <paramref name="gradient"/> with the gradient of <c>scale × Σ losses</c> with respect to the parameters,
    /// and returns the <b>sum</b> of the per-sample losses (unscaled).
    /// </summary>
    double LossAndGradient(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, float scale, Span<float> gradient);
}
