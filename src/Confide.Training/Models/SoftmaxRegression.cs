using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;

namespace Confide.Training.Models;

/// <summary>
/// Multinomial logistic (softmax) regression: logits = x·Wᵀ + b, trained with cross-entropy. The gradient is
/// ∂W = (softmax − onehot)ᵀ·x and ∂b = Σ (softmax − onehot). Tensors: <c>linear.weight</c> [classes, inputs],
/// <c>linear.bias</c> [classes].
/// </summary>
public sealed class SoftmaxRegression : IModel
{
    private static readonly string[] Names = ["linear"];
    private readonly DenseStack _stack;

    /// <summary>Creates the model for inputs of <paramref name="inputShape"/> and <paramref name="classCount"/> classes.</summary>
    public SoftmaxRegression(ImageShape inputShape, int classCount)
    {
        inputShape.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        InputShape = inputShape;
        ClassCount = classCount;
        int[] sizes = [inputShape.Size, classCount];
        Layout = ParameterLayout.Create(DenseStack.LayoutEntries(Names, sizes));
        _stack = new DenseStack(sizes, Layout, Names);
    }

    /// <inheritdoc/>
    public string Name => $"softmax {InputShape.Size}-{ClassCount}";

    /// <inheritdoc/>
    public ParameterLayout Layout { get; }

    /// <inheritdoc/>
    public ImageShape InputShape { get; }

    /// <inheritdoc/>
    public int ClassCount { get; }

    /// <inheritdoc/>
    public void Initialize(Span<float> parameters, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ModelChecks.Length(parameters, Layout);
        _stack.Initialize(parameters, random);
    }

    /// <inheritdoc/>
    public IModelWorkspace CreateWorkspace(int maxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatch);
        return new DenseModelWorkspace(_stack, Layout, maxBatch);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
