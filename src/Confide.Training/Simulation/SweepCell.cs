namespace Confide.Training.Simulation;

/// <summary>One cell of a robustness sweep: an attack against an aggregator.</summary>
/// <param name="Attack">The attack spelling, or "none".</param>
/// <param name="Aggregator">The aggregator spelling.</param>
/// <param name="FinalAccuracy">The final test accuracy, or null when the combination could not run.</param>
/// <param name="BackdoorSuccessRate">The final backdoor success rate, when the attack plants one.</param>
/// <param name="Error">Why the combination could not run (for example Krum's n &gt; 2f + 2), or null.</param>
public sealed record SweepCell(string Attack, string Aggregator, double? FinalAccuracy, double? BackdoorSuccessRate, string? Error);
