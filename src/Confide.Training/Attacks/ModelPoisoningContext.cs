using Confide.Randomness;

namespace Confide.Training.Attacks;

/// <summary>What a model-poisoning attacker knows in one round.</summary>
/// <param name="Length">The update length.</param>
/// <param name="OwnUpdate">Its own honestly trained update, when the attack asked for one.</param>
/// <param name="BenignUpdates">The benign updates of the round, when the attack colludes (else empty).</param>
/// <param name="Participants">The number of clients in the round, benign and malicious.</param>
/// <param name="Malicious">The number of malicious clients in the round.</param>
/// <param name="Random">The attacker's own random source.</param>
public sealed record ModelPoisoningContext(
    int Length,
    ReadOnlyMemory<float>? OwnUpdate,
    IReadOnlyList<ReadOnlyMemory<float>> BenignUpdates,
    int Participants,
    int Malicious,
    IRandomSource Random)
{
    internal ReadOnlySpan<float> RequireOwnUpdate(string attack)
    {
        if (OwnUpdate is not { } own || own.Length != Length)
        {
            throw new ArgumentException($"Attack '{attack}' needs the client's own update of length {Length}.");
        }

        return own.Span;
    }

    internal void RequireBenign(string attack)
    {
        if (BenignUpdates.Count == 0)
        {
            throw new ArgumentException($"Attack '{attack}' colludes and needs at least one benign update of the round; there are none.");
        }

        foreach (var u in BenignUpdates)
        {
            if (u.Length != Length)
            {
                throw new ArgumentException($"Attack '{attack}': a benign update has length {u.Length}, expected {Length}.");
            }
        }
    }
}
