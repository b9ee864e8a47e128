using Confide.Training.Internal;

namespace Confide.Training.Attacks;

/// <summary>
/// "A Little Is Enough" (Baruch, Baruch, Goldberg 2019, "A Little Is Enough: Circumventing Defenses For Distributed
/// Learning"): the colluding clients all send μ − z·σ, where μ and σ are the per-coordinate mean and (population)
/// standard deviation of the benign updates, and z is the paper's z_max: with n participants and f malicious,
/// s = ⌊n/2 + 1⌋ − f supporters are needed and z_max = Φ⁻¹((n − s)/n). The shift stays within the spread of benign
/// updates, so median- and distance-based defences keep it. The paper's bound is symmetric; the minus sign (moving
/// against the benign mean) follows common re-implementations.
/// </summary>
public sealed class ALittleIsEnough : IModelPoisoningAttack
{
    /// <summary>Creates the attack with a fixed <paramref name="z"/>, or the paper's z_max per round when null.</summary>
    public ALittleIsEnough(double? z = null)
    {
        if (z is double v && (!(v >= 0) || !double.IsFinite(v)))
        {
            throw new ArgumentOutOfRangeException(nameof(z), v, "z must be a finite number ≥ 0.");
        }

        Z = z;
    }

    /// <summary>The fixed z, or null for z_max.</summary>
    public double? Z { get; }

    /// <inheritdoc/>
    public string Name => Z is double z ? FormattableString.Invariant($"alie:{z}") : "alie";

    /// <inheritdoc/>
    public bool UsesOwnUpdate => false;

    /// <inheritdoc/>
    public bool UsesBenignUpdates => true;

    /// <summary>
    /// The paper's z_max = Φ⁻¹((n − s)/n) with s = ⌊n/2 + 1⌋ − f, for n participants of which f are malicious.
    /// </summary>
    /// <exception cref="ArgumentException">s ≤ 0 (the attackers already hold a majority) or f is out of range.</exception>
    public static double ZMax(int participants, int malicious)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(participants);
        if (malicious < 0 || malicious > participants)
        {
            throw new ArgumentOutOfRangeException(nameof(malicious), malicious, $"Malicious clients must be between 0 and {participants}.");
        }

        int s = (participants / 2) + 1 - malicious;
        if (s <= 0)
        {
            throw new ArgumentException($"With {malicious} of {participants} clients malicious they already hold a majority; ALIE's z_max is undefined (s = {s}).");
        }

        double p = (double)(participants - s) / participants;
        return p <= 0 ? 0 : NormalDistribution.Quantile(p);
    }

    /// <inheritdoc/>
    public float[] Craft(ModelPoisoningContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.RequireBenign(Name);
        double z = Z ?? ZMax(context.Participants, context.Malicious);
        var (mean, std) = Moments(context.BenignUpdates, context.Length);
        var result = new float[context.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (float)(mean[i] - (z * std[i]));
        }

        return result;
    }

    internal static (double[] Mean, double[] Std) Moments(IReadOnlyList<ReadOnlyMemory<float>> updates, int length)
    {
        var mean = new double[length];
        var m2 = new double[length];
        foreach (var u in updates)
        {
            var s = u.Span;
            for (int i = 0; i < length; i++)
            {
                mean[i] += s[i];
            }
        }

        for (int i = 0; i < length; i++)
        {
            mean[i] /= updates.Count;
        }

        foreach (var u in updates)
        {
            var s = u.Span;
            for (int i = 0; i < length; i++)
            {
                double d = s[i] - mean[i];
                m2[i] += d * d;
            }
        }

        for (int i = 0; i < length; i++)
        {
            m2[i] = Math.Sqrt(m2[i] / updates.Count);
        }

        return (mean, m2);
    }
}
