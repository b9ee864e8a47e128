namespace Confide.Client;

/// <summary>A local evaluation: samples, mean loss, accuracy.</summary>
public sealed record LocalEvaluation(long Samples, double Loss, double Accuracy);
