using Confide.Parameters;

namespace Confide.Client;

/// <summary>Local training as the participant loop sees it: start from the global model, return the trained model.</summary>
public interface ILocalTrainer
{
    /// <summary>Trains from <paramref name="global"/> with the server's settings; must not modify <paramref name="global"/>.</summary>
    LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken);

    /// <summary>Evaluates <paramref name="model"/> on the local data, or returns null when the trainer does not evaluate.</summary>
    LocalEvaluation? Evaluate(ModelParameters model);
}
