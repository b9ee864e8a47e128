namespace Confide.Training.Attacks;

/// <summary>A behaviour of a malicious simulated client, used to evaluate defences.</summary>
public interface IAttack
{
    /// <summary>The name as the CLI spells it, with parameters.</summary>
    string Name { get; }
}
