using System.Globalization;

namespace Confide.Aggregation;

/// <summary>
/// Names an aggregation method and its parameters, so that <c>confide aggregate</c>, <c>confide bench</c> and
/// <c>confide simulate</c> build aggregators the same way through <see cref="AggregatorCatalog.Create"/>.
/// Each field is validated where set; the checks that involve two fields (multi-krum needs <see cref="Select"/>,
/// fltrust needs <see cref="ServerUpdate"/>) happen in <see cref="AggregatorCatalog.Create"/>.
/// </summary>
/// <param name="Method">One of <see cref="AggregatorCatalog.Methods"/>.</param>
/// <param name="Byzantine">f, the number of Byzantine inputs tolerated; used by krum, multi-krum and bulyan, ignored by the others.</param>
/// <param name="Select">m, the number of inputs Multi-Krum averages; required for multi-krum and refused for every other method.</param>
/// <param name="TrimRatio">β, the fraction trimmed from each side by trimmed-mean (0 ≤ β ≤ 0.5); ignored by the others.</param>
/// <param name="ServerUpdate">The server's root-data-set update; required for fltrust and refused for every other method.</param>
/// <param name="NormBound">When set, every update is clipped to this L2 norm before the method runs (<see cref="Aggregation.NormBound"/>).</param>
public sealed record AggregatorSettings(
    string Method,
    int Byzantine = 0,
    int? Select = null,
    double TrimRatio = 0.1,
    ReadOnlyMemory<float>? ServerUpdate = null,
    double? NormBound = null)
{
    /// <summary>One of <see cref="AggregatorCatalog.Methods"/>.</summary>
    public string Method { get; init => field = CheckMethod(value); } = CheckMethod(Method);

    /// <summary>f ≥ 0.</summary>
    public int Byzantine { get; init => field = CheckByzantine(value); } = CheckByzantine(Byzantine);

    /// <summary>m ≥ 1, or null.</summary>
    public int? Select { get; init => field = CheckSelect(value); } = CheckSelect(Select);

    /// <summary>β in [0, 0.5].</summary>
    public double TrimRatio { get; init => field = CheckTrimRatio(value); } = CheckTrimRatio(TrimRatio);

    /// <summary>A positive finite L2 bound, or null.</summary>
    public double? NormBound { get; init => field = CheckNormBound(value); } = CheckNormBound(NormBound);

    private static string CheckMethod(string value)
    {
        ArgumentNullException.ThrowIfNull(value, nameof(Method));
        return AggregatorCatalog.Methods.Contains(value, StringComparer.Ordinal)
            ? value
            : throw new ArgumentException(
                $"Unknown aggregation method '{value}'; expected one of {string.Join(", ", AggregatorCatalog.Methods)}.", nameof(Method));
    }

    private static int CheckByzantine(int value) =>
        value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(Byzantine), value, $"The number of Byzantine inputs f must be ≥ 0, not {value}.");

    private static int? CheckSelect(int? value) =>
        value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(Select), value, $"Multi-Krum's m (inputs averaged) must be ≥ 1, not {value}.");

    private static double CheckTrimRatio(double value) =>
        value is >= 0 and <= 0.5
            ? value
            : throw new ArgumentOutOfRangeException(
                nameof(TrimRatio), value, $"The trim ratio β must be in [0, 0.5] (the fraction trimmed from each side), not {value.ToString(CultureInfo.InvariantCulture)}.");

    private static double? CheckNormBound(double? value) =>
        value is null || (double.IsFinite(value.Value) && value.Value > 0)
            ? value
            : throw new ArgumentOutOfRangeException(
                nameof(NormBound), value, $"The norm bound must be a positive finite L2 norm, not {value.Value.ToString(CultureInfo.InvariantCulture)}.");
}
