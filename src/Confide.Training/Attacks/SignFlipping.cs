using System.Numerics.Tensors;

namespace Confide.Training.Attacks;

/// <summary>
/// Sign flipping: send −c times the honest update (c = 1 by default), pushing the model uphill. A standard Byzantine
/// baseline (for example in Damaskinos et al. 2018 and Li et al. 2019, RSA).
/// </summary>
public sealed class SignFlipping : IModelPoisoningAttack
{
    /// <summary>Creates the attack with magnitude <paramref name="scale"/> &gt; 0.</summary>
    public SignFlipping(double scale = 1.0)
    {
        if (!(scale > 0) || !double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The sign-flip scale must be a finite positive number.");
        }

        Scale = scale;
    }

    /// <summary>The magnitude c.</summary>
    public double Scale { get; }

    /// <inheritdoc/>
    public string Name => Scale == 1 ? "sign-flip" : FormattableString.Invariant($"sign-flip:{Scale}");

    /// <inheritdoc/>
    public bool UsesOwnUpdate => true;

    /// <inheritdoc/>
    public bool UsesBenignUpdates => false;

    /// <inheritdoc/>
    public float[] Craft(ModelPoisoningContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var own = context.RequireOwnUpdate(Name);
        var result = new float[own.Length];
        TensorPrimitives.Multiply(own, (float)-Scale, result);
        return result;
    }
}
