using System.Globalization;

namespace Confide.Cli.Federation;

/// <summary>Parses durations written as a positive number and a unit: <c>90s</c>, <c>30m</c>, <c>24h</c>, <c>7d</c>, <c>1.5h</c>.</summary>
internal static class DurationText
{
    /// <summary>Parses <paramref name="text"/>; throws a <see cref="CliException"/> (exit code 2) naming <paramref name="option"/> when it is not a duration.</summary>
    public static TimeSpan Parse(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (t.Length >= 2 && double.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
            && double.IsFinite(value) && value > 0)
        {
            double? seconds = char.ToLowerInvariant(t[^1]) switch
            {
                's' => value,
                'm' => value * 60,
                'h' => value * 3600,
                'd' => value * 86400,
                _ => null,
            };
            if (seconds is double s && s < TimeSpan.MaxValue.TotalSeconds)
            {
                return TimeSpan.FromSeconds(s);
            }
        }

        throw new CliException($"{option} must be a positive number followed by s, m, h or d (for example 24h or 7d); got '{text}'.", 2);
    }
}
