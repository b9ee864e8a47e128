namespace Confide.Client;

/// <summary>The local training settings a round's task carries.</summary>
public sealed record LocalTrainingSettings(int Epochs, int BatchSize, double LearningRate);
