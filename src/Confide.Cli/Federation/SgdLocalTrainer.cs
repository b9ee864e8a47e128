using Confide.Client;
using Confide.Parameters;
using Confide.Randomness;
using Confide.Training;
using Confide.Training.Data;
using Confide.Training.Models;

namespace Confide.Cli.Federation;

/// <summary>Adapts the training project's <see cref="SgdClassifier"/> to the client SDK's <see cref="ILocalTrainer"/>.</summary>
internal sealed class SgdLocalTrainer(IModel model, Dataset data, IRandomSource random) : ILocalTrainer
{
    private readonly SgdClassifier _classifier = new(model, random);

    public LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken)
    {
        _classifier.SetParameters(global);
        var options = new TrainingOptions { Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate };
        var report = _classifier.Train(data, options, random);
        if (report.Diverged)
        {
            throw new InvalidOperationException($"Local training diverged in round {round} (mean loss {report.MeanLoss}); lower the learning rate.");
        }

        return new LocalTrainingResult(_classifier.GetParameters(), data.Count, report.MeanLoss);
    }

    public LocalEvaluation? Evaluate(ModelParameters model)
    {
        _classifier.SetParameters(model);
        var evaluation = _classifier.Evaluate(data);
        return new LocalEvaluation(evaluation.Samples, evaluation.Loss, evaluation.Accuracy);
    }
}
