namespace Confide.Time;

/// <summary>Time, injected, so protocol deadlines and signature windows are testable without sleeping.</summary>
public interface ISystemClock
{
    /// <summary>The current instant.</summary>
    DateTimeOffset UtcNow { get; }
}
