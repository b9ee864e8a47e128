using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training;

/// <summary>
/// The model-agnostic view that federated code uses: get and set the weights, train locally, evaluate.
/// Implementations hold one set of weights and are not thread-safe; a simulation gives each thread its own.
/// </summary>
public interface ITrainableModel
{
    /// <summary>A short description of the model.</summary>
    string Name { get; }

    /// <summary>The layout of the weights.</summary>
    ParameterLayout Layout { get; }

    /// <summary>A copy of the current weights.</summary>
    ModelParameters GetParameters();

    /// <summary>Replaces the weights with a copy of <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentException">The layout differs.</exception>
    void SetParameters(ModelParameters parameters);

    /// <summary>
    /// Trains on <paramref name="data"/> as <paramref name="options"/> say. All randomness (the shuffle of each epoch)
    /// comes from <paramref name="random"/>, so the result is fixed by the weights, the data, the options and the source.
    /// </summary>
    TrainingReport Train(Dataset data, TrainingOptions options, IRandomSource random);

    /// <summary>The mean loss and the accuracy on <paramref name="data"/>.</summary>
    Evaluation Evaluate(Dataset data);
}
