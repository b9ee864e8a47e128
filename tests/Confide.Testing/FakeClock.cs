using Confide.Time;

namespace Confide.Testing;

/// <summary>A clock that moves only when a test moves it.</summary>
public sealed class FakeClock(DateTimeOffset start) : ISystemClock
{
    /// <inheritdoc/>
    public DateTimeOffset UtcNow { get; private set; } = start;

    /// <summary>Moves the clock forward.</summary>
    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        UtcNow += by;
    }
}
