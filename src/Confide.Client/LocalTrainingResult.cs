using Confide.Parameters;

namespace Confide.Client;

/// <summary>A trained model, how many samples it saw, and its mean training loss.</summary>
public sealed record LocalTrainingResult(ModelParameters Trained, long SampleCount, double TrainLoss);
