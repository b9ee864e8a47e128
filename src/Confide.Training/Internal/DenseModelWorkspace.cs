using Confide.Training.Models;

namespace Confide.Training.Internal;

/// <summary>The workspace of a model that is only a <see cref="DenseStack"/> followed by softmax cross-entropy.</summary>
internal sealed class DenseModelWorkspace(DenseStack stack, Confide.Parameters.ParameterLayout layout, int maxBatch) : IModelWorkspace
{
    private readonly DenseStack.Workspace _inner = stack.CreateWorkspace(maxBatch);

    public int MaxBatch => _inner.MaxBatch;

    public double Evaluate(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, Span<int> predictions)
    {
        ModelChecks.Length(parameters, layout);
        int batch = ModelChecks.Batch(inputs, labels, stack.InputSize, MaxBatch);
        var logits = _inner.Forward(parameters, inputs, batch);
        return Kernels.SoftmaxCrossEntropy(logits, batch, stack.OutputSize, labels, predictions, 0, default);
    }

    public double LossAndGradient(ReadOnlySpan<float> parameters, ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, float scale, Span<float> gradient)
    {
        ModelChecks.Length(parameters, layout);
        ModelChecks.Length(gradient, layout);
        int batch = ModelChecks.Batch(inputs, labels, stack.InputSize, MaxBatch);
        var logits = _inner.Forward(parameters, inputs, batch);
        double loss = Kernels.SoftmaxCrossEntropy(logits, batch, stack.OutputSize, labels, default, scale, _inner.LogitGradient(batch));
        _inner.Backward(parameters, inputs, batch, gradient, default);
        return loss;
    }
}
