namespace Confide.Training.Data;

/// <summary>
/// Labelled samples held in memory: a row-major <c>float</c> matrix (one row of <see cref="ImageShape.Size"/> values
/// per sample, channel-last for images with several channels) and one label in [0, <see cref="ClassCount"/>) per sample.
/// </summary>
public sealed class Dataset
{
    private readonly float[] _features;
    private readonly int[] _labels;

    /// <summary>Wraps <paramref name="features"/> and <paramref name="labels"/> (not copied) after checking them.</summary>
    /// <exception cref="ArgumentException">The lengths disagree, a label is out of range, or a feature is not finite.</exception>
    public Dataset(string name, ImageShape shape, int classCount, float[] features, int[] labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        shape.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        if ((long)labels.Length * shape.Size != features.Length)
        {
            throw new ArgumentException(
                $"Data set '{name}': {labels.Length} labels of {shape.Size} values need {(long)labels.Length * shape.Size} features, got {features.Length}.",
                nameof(features));
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= classCount)
            {
                throw new ArgumentException($"Data set '{name}': label {labels[i]} of sample {i} is outside [0, {classCount}).", nameof(labels));
            }
        }

        if (features.Length > 0 && !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(features))
        {
            throw new ArgumentException($"Data set '{name}': the features contain NaN or infinity.", nameof(features));
        }

        Name = name;
        Shape = shape;
        ClassCount = classCount;
        _features = features;
        _labels = labels;
    }

    /// <summary>A short name for messages ("digits", "fashion-mnist/train", …).</summary>
    public string Name { get; }

    /// <summary>The shape of one sample.</summary>
    public ImageShape Shape { get; }

    /// <summary>The number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>The number of samples.</summary>
    public int Count => _labels.Length;

    /// <summary>The values per sample.</summary>
    public int FeatureSize => Shape.Size;

    /// <summary>All features, row-major.</summary>
    public ReadOnlySpan<float> Features => _features;

    /// <summary>All labels.</summary>
    public ReadOnlySpan<int> Labels => _labels;

    internal float[] FeatureArray => _features;

    internal int[] LabelArray => _labels;

    /// <summary>The features of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Sample(int index) => _features.AsSpan(checked(index * Shape.Size), Shape.Size);

    /// <summary>The label of sample <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>A copy holding the samples at <paramref name="indices"/>, in that order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the data set.</exception>
    public Dataset Subset(ReadOnlySpan<int> indices, string? name = null)
    {
        int size = Shape.Size;
        var features = new float[checked(indices.Length * size)];
        var labels = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int j = indices[i];
            if (j < 0 || j >= Count)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"Index {j} is outside the data set of {Count} samples.");
            }

            _features.AsSpan(j * size, size).CopyTo(features.AsSpan(i * size));
            labels[i] = _labels[j];
        }

        return new Dataset(name ?? Name, Shape, ClassCount, features, labels);
    }

    /// <summary>A copy with the same features and new labels (for label-poisoning attacks).</summary>
    public Dataset WithLabels(int[] labels) => new(Name, Shape, ClassCount, (float[])_features.Clone(), labels);

    /// <summary>A copy with new features and labels of the same shape (for data-poisoning attacks).</summary>
    public Dataset With(float[] features, int[] labels) => new(Name, Shape, ClassCount, features, labels);

    /// <summary>How many samples carry each label.</summary>
    public int[] LabelCounts()
    {
        var counts = new int[ClassCount];
        foreach (int label in _labels)
        {
            counts[label]++;
        }

        return counts;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Dataset({Name}, {Count} × {Shape}, {ClassCount} classes)";
}
