namespace Confide.Training.Attacks;

/// <summary>
/// Inner-product manipulation (Xie, Koyejo, Gupta 2020, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner
/// Product Manipulation", UAI 2019): the colluding clients all send −ε times the mean of the benign updates, so the
/// aggregate's inner product with the true gradient turns negative while each malicious vector stays small.
/// </summary>
public sealed class InnerProductManipulation : IModelPoisoningAttack
{
    /// <summary>Creates the attack with ε &gt; 0 (the paper uses values such as 0.1 and larger).</summary>
    public InnerProductManipulation(double epsilon = 0.1)
    {
        if (!(epsilon > 0) || !double.IsFinite(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a finite positive number.");
        }

        Epsilon = epsilon;
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public string Name => FormattableString.Invariant($"ipm:{Epsilon}");

    /// <inheritdoc/>
    public bool UsesOwnUpdate => false;

    /// <inheritdoc/>
    public bool UsesBenignUpdates => true;

    /// <inheritdoc/>
    public float[] Craft(ModelPoisoningContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.RequireBenign(Name);
        var sum = new double[context.Length];
        foreach (var u in context.BenignUpdates)
        {
            var s = u.Span;
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += s[i];
            }
        }

        var result = new float[context.Length];
        double factor = -Epsilon / context.BenignUpdates.Count;
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (float)(factor * sum[i]);
        }

        return result;
    }
}
