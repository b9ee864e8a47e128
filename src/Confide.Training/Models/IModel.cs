using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training.Models;

/// <summary>
/// A differentiable classifier architecture: its parameter layout, its initialisation and workspaces that compute
/// the softmax cross-entropy loss and its gradient. The architecture itself holds no weights and is thread-safe;
/// each thread uses its own <see cref="IModelWorkspace"/>.
/// </summary>
public interface IModel
{
    /// <summary>A short description, for example "mlp 64-200-10".</summary>
    string Name { get; }

    /// <summary>The names and shapes of the weights.</summary>
    ParameterLayout Layout { get; }

    /// <summary>The shape of one input sample.</summary>
    ImageShape InputShape { get; }

    /// <summary>The number of classes (logits).</summary>
    int ClassCount { get; }

    /// <summary>Fills <paramref name="parameters"/> with fresh initial weights drawn from <paramref name="random"/>.</summary>
    void Initialize(Span<float> parameters, IRandomSource random);

    /// <summary>Creates scratch buffers for batches of up to <paramref name="maxBatch"/> samples. Not thread-safe.</summary>
    IModelWorkspace CreateWorkspace(int maxBatch);
}
