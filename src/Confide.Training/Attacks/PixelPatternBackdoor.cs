using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training.Attacks;

/// <summary>
/// A pixel-pattern backdoor (Gu, Dolan-Gavitt, Garg 2017, "BadNets"; the pixel-pattern task of Bagdasaryan et al. 2020):
/// a fraction of the client's samples get a bright square stamped in the bottom-right corner (one pixel in from the
/// edge) and the target label. Its effect is measured by <see cref="AttackSuccessRate"/>: the share of test samples
/// of other classes that the model assigns to the target once stamped.
/// </summary>
public sealed class PixelPatternBackdoor : IDataPoisoningAttack
{
    /// <summary>Creates the backdoor.</summary>
    /// <param name="targetLabel">The label stamped samples are given.</param>
    /// <param name="poisonFraction">The share of local samples replaced by stamped copies, in (0, 1].</param>
    /// <param name="patternSize">The side of the square; null picks max(2, side / 8).</param>
    public PixelPatternBackdoor(int targetLabel = 0, double poisonFraction = 0.5, int? patternSize = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(targetLabel);
        if (!(poisonFraction > 0 && poisonFraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(poisonFraction), poisonFraction, "The poisoned fraction must lie in (0, 1].");
        }

        if (patternSize is int p)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(p, nameof(patternSize));
        }

        TargetLabel = targetLabel;
        PoisonFraction = poisonFraction;
        PatternSize = patternSize;
    }

    /// <summary>The target label.</summary>
    public int TargetLabel { get; }

    /// <summary>The share of local samples poisoned.</summary>
    public double PoisonFraction { get; }

    /// <summary>The pattern side, or null for automatic.</summary>
    public int? PatternSize { get; }

    /// <inheritdoc/>
    public string Name => $"backdoor:{TargetLabel}";

    /// <inheritdoc/>
    public Dataset Poison(Dataset data, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(random);
        CheckFits(data);
        var features = data.Features.ToArray();
        var labels = data.Labels.ToArray();
        int count = (int)Math.Round(PoisonFraction * data.Count);
        var chosen = DatasetSplitter.Permutation(data.Count, random);
        for (int k = 0; k < count; k++)
        {
            int i = chosen[k];
            Stamp(features.AsSpan(i * data.FeatureSize, data.FeatureSize), data.Shape);
            labels[i] = TargetLabel;
        }

        return data.With(features, labels);
    }

    /// <summary>Writes the pattern into one sample (height × width × channels).</summary>
    public void Stamp(Span<float> sample, ImageShape shape)
    {
        int side = Side(shape);
        int top = shape.Height - 1 - side;
        int left = shape.Width - 1 - side;
        for (int y = top; y < top + side; y++)
        {
            for (int x = left; x < left + side; x++)
            {
                for (int c = 0; c < shape.Channels; c++)
                {
                    sample[(((y * shape.Width) + x) * shape.Channels) + c] = 1f;
                }
            }
        }
    }

    /// <summary>The stamped copies of the samples whose label is not the target, all labelled with the target.</summary>
    public Dataset TriggerSet(Dataset test)
    {
        ArgumentNullException.ThrowIfNull(test);
        CheckFits(test);
        var keep = Enumerable.Range(0, test.Count).Where(i => test.Label(i) != TargetLabel).ToArray();
        if (keep.Length == 0)
        {
            throw new ArgumentException($"Data set '{test.Name}' has no samples outside the target class {TargetLabel}.", nameof(test));
        }

        var subset = test.Subset(keep, test.Name + "/triggered");
        var features = subset.Features.ToArray();
        for (int i = 0; i < subset.Count; i++)
        {
            Stamp(features.AsSpan(i * subset.FeatureSize, subset.FeatureSize), subset.Shape);
        }

        return subset.With(features, Enumerable.Repeat(TargetLabel, subset.Count).ToArray());
    }

    /// <summary>The attack success rate: the fraction of stamped non-target test samples classified as the target.</summary>
    public double AttackSuccessRate(ITrainableModel model, Dataset test)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Evaluate(TriggerSet(test)).Accuracy;
    }

    private int Side(ImageShape shape) => PatternSize ?? Math.Max(2, Math.Min(shape.Height, shape.Width) / 8);

    private void CheckFits(Dataset data)
    {
        if (TargetLabel >= data.ClassCount)
        {
            throw new ArgumentException($"Backdoor target {TargetLabel} is not a class of '{data.Name}' (0..{data.ClassCount - 1}).");
        }

        int side = Side(data.Shape);
        if (side + 1 > data.Shape.Height || side + 1 > data.Shape.Width)
        {
            throw new ArgumentException($"A {side}×{side} pattern with a 1-pixel margin does not fit images of {data.Shape}.");
        }
    }
}
