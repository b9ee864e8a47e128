using System.Globalization;

namespace Confide.Protocol.Internal;

/// <summary>
/// The one shape option records of this project validate in: an <see cref="ArgumentOutOfRangeException"/> naming the
/// parameter, carrying the value, and saying what was expected ("The … must be …").
/// </summary>
internal static class OptionChecks
{
    /// <summary>Throws unless <paramref name="value"/> is longer than zero.</summary>
    /// <param name="value">The duration.</param>
    /// <param name="paramName">The parameter it came from.</param>
    /// <param name="what">What it is, e.g. "The collect timeout".</param>
    public static void PositiveDuration(TimeSpan value, string paramName, string what)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{what} must be a positive duration.");
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is a finite number above zero.</summary>
    public static void PositiveFinite(double value, string paramName, string what)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{what} must be a finite number > 0.");
        }
    }

    /// <summary>Throws unless <paramref name="value"/> ≥ <paramref name="min"/>.</summary>
    public static void AtLeast(long value, long min, string paramName, string what)
    {
        if (value < min)
        {
            throw new ArgumentOutOfRangeException(paramName, value, string.Create(CultureInfo.InvariantCulture, $"{what} must be at least {min}."));
        }
    }

    /// <summary>Throws unless <paramref name="min"/> ≤ <paramref name="value"/> ≤ <paramref name="max"/>.</summary>
    /// <param name="value">The count.</param>
    /// <param name="min">The smallest allowed.</param>
    /// <param name="max">The largest allowed.</param>
    /// <param name="paramName">The parameter it came from.</param>
    /// <param name="what">What it is, e.g. "The Shamir threshold".</param>
    /// <param name="maxName">What the upper bound is, e.g. "the neighbour count", printed before its value.</param>
    public static void InRange(long value, long min, long max, string paramName, string what, string? maxName = null)
    {
        if (value < min || value > max)
        {
            string upper = maxName is null ? max.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{maxName} {max}");
            throw new ArgumentOutOfRangeException(paramName, value, string.Create(CultureInfo.InvariantCulture, $"{what} must be between {min} and {upper}."));
        }
    }
}
