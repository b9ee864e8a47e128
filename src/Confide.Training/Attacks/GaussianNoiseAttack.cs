using Confide.Training.Internal;

namespace Confide.Training.Attacks;

/// <summary>
/// Gaussian Byzantine clients: the update is replaced by i.i.d. N(0, σ²) noise (the Gaussian attack of
/// Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent").
/// </summary>
public sealed class GaussianNoiseAttack : IModelPoisoningAttack
{
    /// <summary>Creates the attack with standard deviation <paramref name="sigma"/> &gt; 0.</summary>
    public GaussianNoiseAttack(double sigma = 1.0)
    {
        if (!(sigma > 0) || !double.IsFinite(sigma))
        {
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "The noise standard deviation must be a finite positive number.");
        }

        Sigma = sigma;
    }

    /// <summary>The standard deviation σ.</summary>
    public double Sigma { get; }

    /// <inheritdoc/>
    public string Name => FormattableString.Invariant($"gaussian:{Sigma}");

    /// <inheritdoc/>
    public bool UsesOwnUpdate => false;

    /// <inheritdoc/>
    public bool UsesBenignUpdates => false;

    /// <inheritdoc/>
    public float[] Craft(ModelPoisoningContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new float[context.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (float)(Sigma * Sampling.Normal(context.Random));
        }

        return result;
    }
}
