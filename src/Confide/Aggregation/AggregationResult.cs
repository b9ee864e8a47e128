namespace Confide.Aggregation;

/// <summary>
/// The aggregate, and which inputs it kept or excluded and why, so a user can see that client 7 was excluded by Krum.
/// Indices refer to the order of the inputs.
/// </summary>
/// <param name="Aggregate">The combined vector.</param>
/// <param name="Selected">The indices of the inputs that contributed, ascending.</param>
/// <param name="Flagged">The indices of the inputs excluded or flagged, each with a reason.</param>
/// <param name="Scores">Per-input scores where the method computes them (Krum scores, FLTrust trust), else null.</param>
public sealed record AggregationResult(
    float[] Aggregate,
    IReadOnlyList<int> Selected,
    IReadOnlyList<FlaggedInput> Flagged,
    IReadOnlyList<double>? Scores = null);

/// <summary>An input that a method excluded or flagged.</summary>
/// <param name="Index">The input's position.</param>
/// <param name="Reason">Why, in words (for example "Krum score 812.4 above the 10 best").</param>
public sealed record FlaggedInput(int Index, string Reason);
