namespace Confide.Training.Attacks;

/// <summary>
/// What a malicious client does: poison its data, its update, or both (for example a backdoor with model replacement).
/// </summary>
/// <param name="Data">The data-poisoning part, if any.</param>
/// <param name="Model">The model-poisoning part, if any.</param>
public sealed record MaliciousBehaviour(IDataPoisoningAttack? Data, IModelPoisoningAttack? Model)
{
    /// <summary>The combined name, for example "backdoor:0+scaling".</summary>
    public string Name => string.Join('+', new IAttack?[] { Data, Model }.Where(a => a is not null).Select(a => a!.Name));

    /// <summary>Whether the client must train (its data attack or its model attack needs an honestly trained update).</summary>
    public bool Trains => Model is null || Model.UsesOwnUpdate;
}
