using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Internal;

namespace Confide.Training.Models;

/// <summary>
/// A LeNet-style CNN (LeCun et al. 1998, "Gradient-Based Learning Applied to Document Recognition") in the
/// configuration NIID-Bench uses (Li et al. 2021): conv k×k → ReLU → max-pool 2 → conv k×k → ReLU → max-pool 2 →
/// fully connected layers with ReLU → softmax cross-entropy. Convolutions run as im2row followed by the blocked
/// matrix multiply; their gradients are ∂W = δᵀ·rows, ∂b = Σ δ and ∂rows = δ·W, scattered back by the adjoint of im2row.
/// Tensors: <c>conv1.weight</c> [c1, k, k, cin], <c>conv1.bias</c>, <c>conv2.weight</c> [c2, k, k, c1], <c>conv2.bias</c>,
/// <c>fc1.weight</c>, ….
/// </summary>
/// <remarks>
/// Feature maps are stored height × width × channels (channels last), which makes each kernel row of a patch one
/// contiguous block to copy. Hence convolution weights are [out, k, k, in] rather than PyTorch's [out, in, k, k], and
/// <c>fc1</c> sees the flattened features in (y, x, channel) order rather than (channel, y, x): exchanging weights with
/// PyTorch needs a permutation of those two tensors.
/// </remarks>
public sealed class ConvNet : IModel
{
    private readonly DenseStack _head;

    /// <summary>Creates the network described by <paramref name="options"/>.</summary>
    public ConvNet(ConvNetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        int k = options.KernelSize;
        int[] sizes = [options.FlatSize, .. options.Hidden, options.ClassCount];
        string[] names = Enumerable.Range(1, sizes.Length - 1).Select(i => $"fc{i}").ToArray();
        var entries = new List<(string, int[])>
        {
            ("conv1.weight", [options.Conv1Channels, k, k, options.InputShape.Channels]),
            ("conv1.bias", [options.Conv1Channels]),
            ("conv2.weight", [options.Conv2Channels, k, k, options.Conv1Channels]),
            ("conv2.bias", [options.Conv2Channels]),
        };
        entries.AddRange(DenseStack.LayoutEntries(names, sizes));
        Layout = ParameterLayout.Create(entries);
        _head = new DenseStack(sizes, Layout, names);
        Conv1Weight = Layout["conv1.weight"];
        Conv1Bias = Layout["conv1.bias"];
        Conv2Weight = Layout["conv2.weight"];
        Conv2Bias = Layout["conv2.bias"];
    }

    /// <summary>The configuration.</summary>
    public ConvNetOptions Options { get; }

    /// <inheritdoc/>
    public string Name =>
        $"cnn {Options.InputShape} conv{Options.Conv1Channels}-conv{Options.Conv2Channels} k{Options.KernelSize} p{Options.Padding} fc {Options.FlatSize}-{string.Join('-', Options.Hidden)}-{Options.ClassCount}";

    /// <inheritdoc/>
    public ParameterLayout Layout { get; }

    /// <inheritdoc/>
    public ImageShape InputShape => Options.InputShape;

    /// <inheritdoc/>
    public int ClassCount => Options.ClassCount;

    internal TensorSpec Conv1Weight { get; }

    internal TensorSpec Conv1Bias { get; }

    internal TensorSpec Conv2Weight { get; }

    internal TensorSpec Conv2Bias { get; }

    internal DenseStack Head => _head;

    /// <inheritdoc/>
    public void Initialize(Span<float> parameters, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ModelChecks.Length(parameters, Layout);
        // PyTorch's default for nn.Conv2d and nn.Linear: uniform in ±1/√fan_in.
        int k2 = Options.KernelSize * Options.KernelSize;
        double b1 = 1.0 / Math.Sqrt(Options.InputShape.Channels * k2);
        double b2 = 1.0 / Math.Sqrt(Options.Conv1Channels * k2);
        ModelInit.Uniform(parameters.Slice(Conv1Weight.Offset, Conv1Weight.Length), b1, random);
        ModelInit.Uniform(parameters.Slice(Conv1Bias.Offset, Conv1Bias.Length), b1, random);
        ModelInit.Uniform(parameters.Slice(Conv2Weight.Offset, Conv2Weight.Length), b2, random);
        ModelInit.Uniform(parameters.Slice(Conv2Bias.Offset, Conv2Bias.Length), b2, random);
        _head.Initialize(parameters, random);
    }

    /// <inheritdoc/>
    public IModelWorkspace CreateWorkspace(int maxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatch);
        return new ConvNetWorkspace(this, maxBatch);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
