using Confide.Parameters;
using Confide.Randomness;

namespace Confide.Training.Internal;

/// <summary>
/// Fully connected layers z = a·Wᵀ + b with ReLU between them (not after the last). Weights are stored as PyTorch's
/// <c>nn.Linear</c> does, [out, in], so a layout round-trips to a state_dict by name and shape.
/// </summary>
internal sealed class DenseStack
{
    private readonly int[] _sizes;
    private readonly TensorSpec[] _weights;
    private readonly TensorSpec[] _biases;

    public DenseStack(int[] sizes, ParameterLayout layout, string[] names)
    {
        _sizes = sizes;
        _weights = names.Select(n => layout[n + ".weight"]).ToArray();
        _biases = names.Select(n => layout[n + ".bias"]).ToArray();
    }

    public int InputSize => _sizes[0];

    public int OutputSize => _sizes[^1];

    public int Layers => _sizes.Length - 1;

    /// <summary>The (name, shape) entries of the layers, in order.</summary>
    public static IEnumerable<(string Name, int[] Shape)> LayoutEntries(string[] names, int[] sizes)
    {
        for (int l = 0; l < names.Length; l++)
        {
            yield return (names[l] + ".weight", [sizes[l + 1], sizes[l]]);
            yield return (names[l] + ".bias", [sizes[l + 1]]);
        }
    }

    /// <summary>PyTorch's default for nn.Linear: weights and biases uniform in ±1/√fan_in.</summary>
    public void Initialize(Span<float> parameters, IRandomSource random)
    {
        for (int l = 0; l < Layers; l++)
        {
            double bound = 1.0 / Math.Sqrt(_sizes[l]);
            ModelInit.Uniform(parameters.Slice(_weights[l].Offset, _weights[l].Length), bound, random);
            ModelInit.Uniform(parameters.Slice(_biases[l].Offset, _biases[l].Length), bound, random);
        }
    }

    public Workspace CreateWorkspace(int maxBatch) => new(this, maxBatch);

    /// <summary>Per-thread buffers for a batch.</summary>
    internal sealed class Workspace
    {
        private readonly DenseStack _stack;
        private readonly float[][] _activations;
        private readonly float[] _gradA;
        private readonly float[] _gradB;

        public Workspace(DenseStack stack, int maxBatch)
        {
            _stack = stack;
            MaxBatch = maxBatch;
            var sizes = stack._sizes;
            _activations = new float[stack.Layers][];
            int maxWidth = 0;
            for (int l = 0; l < stack.Layers; l++)
            {
                _activations[l] = new float[checked(maxBatch * sizes[l + 1])];
                maxWidth = Math.Max(maxWidth, Math.Max(sizes[l], sizes[l + 1]));
            }

            _gradA = new float[checked(maxBatch * maxWidth)];
            _gradB = new float[checked(maxBatch * maxWidth)];
        }

        public int MaxBatch { get; }

        /// <summary>The gradient buffer the caller fills with ∂loss/∂logits before <see cref="Backward"/>.</summary>
        public Span<float> LogitGradient(int batch) => _gradA.AsSpan(0, batch * _stack.OutputSize);

        /// <summary>Runs the layers and returns the logits (batch × OutputSize), valid until the next call.</summary>
        public ReadOnlySpan<float> Forward(ReadOnlySpan<float> parameters, ReadOnlySpan<float> input, int batch)
        {
            var sizes = _stack._sizes;
            ReadOnlySpan<float> previous = input;
            for (int l = 0; l < _stack.Layers; l++)
            {
                int fanIn = sizes[l];
                int fanOut = sizes[l + 1];
                var w = parameters.Slice(_stack._weights[l].Offset, _stack._weights[l].Length);
                var b = parameters.Slice(_stack._biases[l].Offset, fanOut);
                // z = a·Wᵀ: W is [out × in], transposed while the multiply packs it.
                var z = _activations[l].AsSpan(0, batch * fanOut);
                Gemm.Multiply(previous, false, w, true, z, batch, fanIn, fanOut, accumulate: false);
                Kernels.AddBiasRows(z, batch, b);
                if (l < _stack.Layers - 1)
                {
                    Kernels.Relu(z);
                }

                previous = z;
            }

            return previous;
        }

        /// <summary>
        /// Back-propagates the gradient in <see cref="LogitGradient"/> through the layers of the last
        /// <see cref="Forward"/>, overwriting this stack's part of <paramref name="gradient"/>, and writes ∂/∂input to
        /// <paramref name="inputGradient"/> unless it is empty.
        /// </summary>
        public void Backward(ReadOnlySpan<float> parameters, ReadOnlySpan<float> input, int batch, Span<float> gradient, Span<float> inputGradient)
        {
            var sizes = _stack._sizes;
            float[] current = _gradA;
            float[] next = _gradB;
            for (int l = _stack.Layers - 1; l >= 0; l--)
            {
                int fanIn = sizes[l];
                int fanOut = sizes[l + 1];
                ReadOnlySpan<float> previous = l == 0 ? input : _activations[l - 1].AsSpan(0, batch * fanIn);
                var dz = current.AsSpan(0, batch * fanOut);
                var w = parameters.Slice(_stack._weights[l].Offset, _stack._weights[l].Length);
                // ∂W = dZᵀ·A_prev ([out × batch]·[batch × in]); ∂b = column sums of dZ.
                Gemm.Multiply(dz, true, previous, gradient.Slice(_stack._weights[l].Offset, _stack._weights[l].Length), fanOut, batch, fanIn, accumulate: false);
                Kernels.ColumnSums(dz, batch, gradient.Slice(_stack._biases[l].Offset, fanOut));
                if (l > 0)
                {
                    var da = next.AsSpan(0, batch * fanIn);
                    Gemm.Multiply(dz, false, w, da, batch, fanOut, fanIn, accumulate: false);
                    Kernels.ReluBackward(previous, da);
                    (current, next) = (next, current);
                }
                else if (!inputGradient.IsEmpty)
                {
                    Gemm.Multiply(dz, false, w, inputGradient, batch, fanOut, fanIn, accumulate: false);
                }
            }
        }
    }
}
