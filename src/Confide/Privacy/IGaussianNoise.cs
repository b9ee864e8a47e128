namespace Confide.Privacy;

/// <summary>
/// A source of continuous Gaussian noise for the DP mechanisms. Production uses <see cref="GaussianNoise"/> over
/// <see cref="Randomness.CryptoRandomSource"/>; tests inject <see cref="GaussianNoise"/> over a seeded source, or a fake.
/// </summary>
public interface IGaussianNoise
{
    /// <summary>Adds independent N(0, <paramref name="standardDeviation"/>²) noise to every element of <paramref name="values"/>.</summary>
    void AddTo(Span<float> values, double standardDeviation);

    /// <summary>Fills <paramref name="destination"/> with independent N(0, <paramref name="standardDeviation"/>²) samples.</summary>
    void Fill(Span<double> destination, double standardDeviation);

    /// <summary>One N(0, <paramref name="standardDeviation"/>²) sample.</summary>
    double Sample(double standardDeviation)
    {
        Span<double> one = stackalloc double[1];
        Fill(one, standardDeviation);
        return one[0];
    }
}
