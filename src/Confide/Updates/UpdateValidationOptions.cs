using Confide.Parameters;

namespace Confide.Updates;

/// <summary>What <see cref="UpdateValidator"/> requires of every update; validated where built.</summary>
/// <param name="ExpectedLayout">The layout every delta must have (names, shapes and order).</param>
/// <param name="MaxSampleCount">
/// The largest sample count accepted. FedAvg weights by the count, so an unbounded claim lets one client outweigh all others;
/// the default, <see cref="DefaultMaxSampleCount"/>, only stops absurd claims and callers should set a bound that fits their population.
/// </param>
/// <param name="MaxNorm">When set, updates whose L2 norm exceeds it are rejected (not clipped: clipping is <c>NormBound</c>'s job).</param>
public sealed record UpdateValidationOptions(
    ParameterLayout ExpectedLayout,
    long MaxSampleCount = UpdateValidationOptions.DefaultMaxSampleCount,
    double? MaxNorm = null)
{
    /// <summary>The default bound on a sample count: one billion.</summary>
    public const long DefaultMaxSampleCount = 1_000_000_000;

    /// <summary>The largest bound allowed, 2^53: FedAvg weighs by the sample count as a double, which holds integers exactly up to it.</summary>
    public const long LargestMaxSampleCount = (long)Aggregation.StreamingFedAvg.MaxWeight;

    /// <summary>The layout every delta must have.</summary>
    public ParameterLayout ExpectedLayout { get; init => field = CheckLayout(value); } = CheckLayout(ExpectedLayout);

    /// <summary>The largest sample count accepted, at least 1.</summary>
    public long MaxSampleCount { get; init => field = CheckMaxSampleCount(value); } = CheckMaxSampleCount(MaxSampleCount);

    /// <summary>The largest L2 norm accepted, or null for no bound.</summary>
    public double? MaxNorm { get; init => field = CheckMaxNorm(value); } = CheckMaxNorm(MaxNorm);

    private static ParameterLayout CheckLayout(ParameterLayout value) =>
        value ?? throw new ArgumentNullException(nameof(ExpectedLayout), "The expected layout is required.");

    private static long CheckMaxSampleCount(long value) =>
        value is >= 1 and <= LargestMaxSampleCount
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxSampleCount), value, "The sample-count bound must be between 1 and 2^53 (the largest count a double weight holds exactly).");

    private static double? CheckMaxNorm(double? value) =>
        value is null || (double.IsFinite(value.Value) && value.Value > 0)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxNorm), value, "The norm bound must be a finite positive number, or null for none.");
}
