using Confide.Client;
using Confide.Parameters;

namespace Confide.Server.Tests;

/// <summary>
/// A trainer whose result depends only on its index, the round and the global model, so a networked run can be
/// replayed in memory value for value.
/// </summary>
internal sealed class DeterministicTrainer(int index) : ILocalTrainer
{
    public int Calls { get; private set; }

    public static ModelParameters Train(int index, ModelParameters global, long round)
    {
        var trained = global.Clone();
        var values = trained.AsSpan();
        for (int i = 0; i < values.Length; i++)
        {
            // A pull towards a client-specific target, like a gradient step on a quadratic.
            float target = 0.1f * (index + 1) * ((i % 3) - 1) + (0.01f * round);
            values[i] += 0.5f * (target - values[i]);
        }

        return trained;
    }

    public static long Samples(int index) => 10 * (index + 1);

    public LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken)
    {
        Calls++;
        return new LocalTrainingResult(Train(index, global, round), Samples(index), 0.5);
    }

    public LocalEvaluation? Evaluate(ModelParameters model) => new(Samples(index), 0.25, 0.75);
}
