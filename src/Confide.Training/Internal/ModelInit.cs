using Confide.Randomness;

namespace Confide.Training.Internal;

/// <summary>Weight initialisation from an injected source.</summary>
internal static class ModelInit
{
    /// <summary>Fills <paramref name="values"/> uniformly in [−bound, bound).</summary>
    public static void Uniform(Span<float> values, double bound, IRandomSource random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
        }
    }
}
