using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;

namespace Confide.Training.Models;

/// <summary>
/// A multilayer perceptron: fully connected layers with ReLU between them and softmax cross-entropy on the last.
/// Back-propagation (Rumelhart, Hinton, Williams 1986): ∂W_l = δ_lᵀ·a_{l−1}, ∂b_l = Σ δ_l,
/// δ_{l−1} = (δ_l·W_l) ⊙ [a_{l−1} &gt; 0]. Tensors <c>fc1.weight</c> [h1, inputs], <c>fc1.bias</c>, …, as PyTorch names them.
/// </summary>
public sealed class MultilayerPerceptron : IModel
{
    private readonly DenseStack _stack;

    /// <summary>Creates the model with the given hidden widths (at least one, each ≥ 1).</summary>
    public MultilayerPerceptron(ImageShape inputShape, IReadOnlyList<int> hidden, int classCount)
    {
        inputShape.Validate();
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        if (hidden.Count == 0)
        {
            throw new ArgumentException("An MLP needs at least one hidden layer; use SoftmaxRegression for none.", nameof(hidden));
        }

        foreach (int width in hidden)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width, nameof(hidden));
        }

        InputShape = inputShape;
        ClassCount = classCount;
        Hidden = [.. hidden];
        int[] sizes = [inputShape.Size, .. hidden, classCount];
        string[] names = Enumerable.Range(1, sizes.Length - 1).Select(i => $"fc{i}").ToArray();
        Layout = ParameterLayout.Create(DenseStack.LayoutEntries(names, sizes));
        _stack = new DenseStack(sizes, Layout, names);
    }

    /// <summary>The hidden widths.</summary>
    public IReadOnlyList<int> Hidden { get; }

    /// <inheritdoc/>
    public string Name => $"mlp {InputShape.Size}-{string.Join('-', Hidden)}-{ClassCount}";

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
