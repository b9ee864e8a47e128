using Confide.Randomness;
using Confide.Training.Data;

namespace Confide.Training.Attacks;

/// <summary>
/// An attack on the training data: the malicious client trains honestly, but on data it has altered. It sees only its
/// own data set.
/// </summary>
public interface IDataPoisoningAttack : IAttack
{
    /// <summary>Returns a poisoned copy of <paramref name="data"/>; <paramref name="data"/> itself is not changed.</summary>
    Dataset Poison(Dataset data, IRandomSource random);
}
