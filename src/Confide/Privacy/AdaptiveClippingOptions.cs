namespace Confide.Privacy;

/// <summary>
/// Settings of adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private Learning with Adaptive
/// Clipping", NeurIPS 2021). The paper's defaults: γ = 0.5, η = 0.2, σ_b = m/20 for m expected clients per round.
/// </summary>
public sealed record AdaptiveClippingOptions
{
    /// <summary>The paper's clip learning rate η.</summary>
    public const double DefaultLearningRate = 0.2;

    /// <summary>The paper's count noise σ_b = m/20 for <paramref name="expectedClientsPerRound"/> = m.</summary>
    public static double DefaultCountNoise(double expectedClientsPerRound) => expectedClientsPerRound / 20.0;

    /// <summary>Validates and builds the options.</summary>
    /// <param name="initialClipNorm">C₀, the clip norm of the first round.</param>
    /// <param name="targetQuantile">γ ∈ (0, 1): the fraction of clients whose update norm should fall under C.</param>
    /// <param name="learningRate">η &gt; 0 of the geometric update C ← C·exp(−η(b̄ − γ)).</param>
    /// <param name="countNoiseStdDev">σ_b &gt; 0: the standard deviation of the noise on the count of clients under the bound.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range.</exception>
    public AdaptiveClippingOptions(double initialClipNorm, double targetQuantile, double learningRate, double countNoiseStdDev)
    {
        L2Clipping.CheckClipNorm(initialClipNorm);
        if (!(targetQuantile > 0 && targetQuantile < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetQuantile), targetQuantile, "The target quantile γ must lie in (0, 1).");
        }

        if (!(learningRate > 0) || double.IsPositiveInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The clip learning rate η must be a positive finite number.");
        }

        if (!(countNoiseStdDev > 0) || double.IsPositiveInfinity(countNoiseStdDev))
        {
            throw new ArgumentOutOfRangeException(nameof(countNoiseStdDev), countNoiseStdDev, "The count noise σ_b must be positive: an exact count is not private.");
        }

        InitialClipNorm = initialClipNorm;
        TargetQuantile = targetQuantile;
        LearningRate = learningRate;
        CountNoiseStdDev = countNoiseStdDev;
    }

    /// <summary>C₀.</summary>
    public double InitialClipNorm { get; }

    /// <summary>γ.</summary>
    public double TargetQuantile { get; }

    /// <summary>η.</summary>
    public double LearningRate { get; }

    /// <summary>σ_b.</summary>
    public double CountNoiseStdDev { get; }
}
