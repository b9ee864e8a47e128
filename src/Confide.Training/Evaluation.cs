namespace Confide.Training;

/// <summary>The mean cross-entropy loss and the accuracy of a model on a data set.</summary>
/// <param name="Samples">The number of samples evaluated.</param>
/// <param name="Loss">The mean loss (natural log).</param>
/// <param name="Accuracy">The fraction predicted correctly, in [0, 1].</param>
public sealed record Evaluation(int Samples, double Loss, double Accuracy);
