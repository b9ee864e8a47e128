using System.Numerics.Tensors;

namespace Confide.Training.Attacks;

/// <summary>
/// Scaling / model replacement (Bagdasaryan et al. 2020, "How To Backdoor Federated Learning", §4.2): the attacker
/// scales its update by γ so that, averaged with n − 1 benign updates, the global model is (nearly) replaced by its own:
/// X̃ − G = γ(X − G), with γ = n/η for n participants and server learning rate η. With no γ given, γ = n (η = 1, the
/// simulator's FedAvg). Combine with <see cref="PixelPatternBackdoor"/> for the paper's backdoor attack.
/// </summary>
public sealed class ModelReplacement : IModelPoisoningAttack
{
    /// <summary>Creates the attack with a fixed boost <paramref name="gamma"/>, or n per round when null.</summary>
    public ModelReplacement(double? gamma = null)
    {
        if (gamma is double g && (!(g > 0) || !double.IsFinite(g)))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), g, "The boost γ must be a finite positive number.");
        }

        Gamma = gamma;
    }

    /// <summary>The fixed boost γ, or null for the number of participants.</summary>
    public double? Gamma { get; }

    /// <inheritdoc/>
    public string Name => Gamma is double g ? FormattableString.Invariant($"scaling:{g}") : "scaling";

    /// <inheritdoc/>
    public bool UsesOwnUpdate => true;

    /// <inheritdoc/>
    public bool UsesBenignUpdates => false;

    /// <inheritdoc/>
    public float[] Craft(ModelPoisoningContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var own = context.RequireOwnUpdate(Name);
        double gamma = Gamma ?? context.Participants;
        var result = new float[own.Length];
        TensorPrimitives.Multiply(own, (float)gamma, result);
        return result;
    }
}
