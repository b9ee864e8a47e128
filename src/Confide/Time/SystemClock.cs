namespace Confide.Time;

/// <summary>The wall clock.</summary>
public sealed class SystemClock : ISystemClock
{
    /// <summary>The shared instance.</summary>
    public static SystemClock Instance { get; } = new();

    private SystemClock()
    {
    }

    /// <inheritdoc/>
    public DateTimeOffset UtcNow => DateTimeOffset.UtcNow;
}
