using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training.Attacks;

/// <summary>
/// Label flipping: every local label y becomes K − 1 − y (the mapping used by Fang et al. 2020, "Local Model Poisoning
/// Attacks to Byzantine-Robust Federated Learning"; see also Tolpegin et al. 2020, "Data Poisoning Attacks Against
/// Federated Learning Systems"). The features are untouched.
/// </summary>
public sealed class LabelFlipping : IDataPoisoningAttack
{
    /// <inheritdoc/>
    public string Name => "label-flip";

    /// <inheritdoc/>
    public Dataset Poison(Dataset data, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(data);
        var labels = new int[data.Count];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = data.ClassCount - 1 - data.Label(i);
        }

        return data.WithLabels(labels);
    }
}
