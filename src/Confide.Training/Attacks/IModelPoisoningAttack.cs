namespace Confide.Training.Attacks;

/// <summary>
/// An attack on the update a client sends (the difference between its weights after local training and the global
/// weights). Colluding attacks (<see cref="UsesBenignUpdates"/>) also see every benign update of the round.
/// </summary>
public interface IModelPoisoningAttack : IAttack
{
    /// <summary>Whether the attack needs its own honestly trained update (if not, the client need not train).</summary>
    bool UsesOwnUpdate { get; }

    /// <summary>Whether the attack needs the benign clients' updates of the round.</summary>
    bool UsesBenignUpdates { get; }

    /// <summary>The update to send instead of the honest one.</summary>
    /// <exception cref="ArgumentException">The context lacks what the attack needs.</exception>
    float[] Craft(ModelPoisoningContext context);
}
