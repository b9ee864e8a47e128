using Confide.Client;
using Confide.Parameters;

namespace Confide.Cli.Tests;

/// <summary>Moves every parameter by <paramref name="step"/>·(index + 1), after an optional delay.</summary>
internal sealed class ShiftTrainer(int index, float step, TimeSpan delay = default) : ILocalTrainer
{
    public LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken)
    {
        if (delay > TimeSpan.Zero)
        {
            Task.Delay(delay, cancellationToken).GetAwaiter().GetResult();
        }

        var trained = global.Clone();
        var values = trained.AsSpan();
        for (int i = 0; i < values.Length; i++)
        {
            values[i] += step * (index + 1);
        }

        return new LocalTrainingResult(trained, 10, 0.5);
    }

    public LocalEvaluation? Evaluate(ModelParameters model) => null;
}
