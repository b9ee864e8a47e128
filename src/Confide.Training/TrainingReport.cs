namespace Confide.Training;

/// <summary>What one call to <see cref="ITrainableModel.Train"/> did.</summary>
/// <param name="Samples">The number of local samples.</param>
/// <param name="Steps">SGD steps taken.</param>
/// <param name="MeanLoss">The mean training loss over the last epoch, or the part of it run before <see cref="TrainingOptions.MaxSteps"/> stopped training (NaN if training diverged before it).</param>
/// <param name="Diverged">True when the loss or the weights became non-finite; training stopped there.</param>
public sealed record TrainingReport(int Samples, int Steps, double MeanLoss, bool Diverged);
