using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training.Tests;

/// <summary>Small synthetic data sets for tests.</summary>
internal static class TestData
{
    /// <summary>Uniform features in [0, 1) and uniform labels.</summary>
    public static Dataset Random(int count, ImageShape shape, int classes, ulong seed)
    {
        IRandomSource rng = new SeededRandomSource(seed);
        var x = new float[count * shape.Size];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)rng.NextDouble();
        }

        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = rng.NextInt32(classes);
        }

        return new Dataset("random", shape, classes, x, y);
    }

    /// <summary>A linearly separable problem: each class lights up its own block of features, plus noise.</summary>
    public static Dataset Separable(int count, int features, int classes, ulong seed)
    {
        IRandomSource rng = new SeededRandomSource(seed);
        var x = new float[count * features];
        var y = new int[count];
        int block = features / classes;
        for (int i = 0; i < count; i++)
        {
            int label = rng.NextInt32(classes);
            y[i] = label;
            for (int j = 0; j < features; j++)
            {
                x[(i * features) + j] = (float)(0.3 * rng.NextDouble());
            }

            for (int j = label * block; j < (label + 1) * block; j++)
            {
                x[(i * features) + j] += 0.7f;
            }
        }

        return new Dataset("separable", new ImageShape(1, 1, features), classes, x, y);
    }
}
