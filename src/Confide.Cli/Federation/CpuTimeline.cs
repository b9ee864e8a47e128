using System.Diagnostics;

namespace Confide.Cli.Federation;

/// <summary>
/// Samples this process's CPU time (user + system, all threads) against the wall clock every few milliseconds, so the
/// benchmark can tell how much CPU each process spent inside each round (between the server's own start and
/// aggregation timestamps), apart from start-up, enrollment and the idle time between rounds.
/// </summary>
internal sealed class CpuTimeline : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private readonly Lock _gate = new();
    private readonly List<(long UnixMs, double CpuSeconds)> _samples = [];
    private readonly Timer _timer;

    public CpuTimeline()
    {
        Sample();
        _timer = new Timer(_ => Sample(), null, Interval, Interval);
    }

    /// <summary>The samples so far, oldest first: (Unix milliseconds, CPU seconds since the process started).</summary>
    public IReadOnlyList<(long UnixMs, double CpuSeconds)> Samples
    {
        get
        {
            Sample();
            lock (_gate)
            {
                return [.. _samples];
            }
        }
    }

    /// <summary>
    /// The CPU seconds spent between <paramref name="from"/> and <paramref name="to"/>, linearly interpolated between
    /// the samples around each end (the error is at most one sampling interval's CPU at each end).
    /// </summary>
    public static double Between(IReadOnlyList<(long UnixMs, double CpuSeconds)> samples, DateTimeOffset from, DateTimeOffset to) =>
        At(samples, to.ToUnixTimeMilliseconds()) - At(samples, from.ToUnixTimeMilliseconds());

    public void Dispose() => _timer.Dispose();

    private static double At(IReadOnlyList<(long UnixMs, double CpuSeconds)> samples, long unixMs)
    {
        if (samples.Count == 0)
        {
            return 0;
        }

        if (unixMs <= samples[0].UnixMs)
        {
            return samples[0].CpuSeconds;
        }

        for (int i = 1; i < samples.Count; i++)
        {
            var (t1, c1) = samples[i];
            if (unixMs <= t1)
            {
                var (t0, c0) = samples[i - 1];
                return t1 == t0 ? c1 : c0 + ((c1 - c0) * (unixMs - t0) / (t1 - t0));
            }
        }

        return samples[^1].CpuSeconds;
    }

    private void Sample()
    {
        var sample = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Environment.CpuUsage.TotalTime.TotalSeconds);
        lock (_gate)
        {
            _samples.Add(sample);
        }
    }
}
