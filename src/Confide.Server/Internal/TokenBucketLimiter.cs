using System.Collections.Concurrent;
using Confide.Time;

namespace Confide.Server.Internal;

/// <summary>
/// Keyed token buckets driven by an injected clock (so tests are deterministic): each key holds at most
/// <c>burst</c> tokens and gains <c>perSecond</c> per second; a request takes one token or is refused.
/// </summary>
/// <remarks>Buckets that have refilled completely carry no information and are dropped when there are many keys.</remarks>
internal sealed class TokenBucketLimiter(ISystemClock clock, double perSecond, int burst)
{
    private const int PruneAbove = 10_000;
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _pruneGate = new();

    /// <summary>Keys currently tracked (for tests of the pruning).</summary>
    public int Count => _buckets.Count;

    public double PerSecond => perSecond;

    public int Burst => burst;

    /// <summary>Takes a token for <paramref name="key"/>; false (with how long until one is available) when the bucket is empty.</summary>
    public bool TryTake(string key, out TimeSpan retryAfter)
    {
        var now = clock.UtcNow;
        if (_buckets.Count > PruneAbove)
        {
            Prune(now);
        }

        var bucket = _buckets.GetOrAdd(key, _ => new Bucket(burst, now));
        lock (bucket)
        {
            bucket.Refill(now, perSecond, burst);
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / perSecond);
            return false;
        }
    }

    /// <summary>True when <paramref name="key"/>'s bucket holds no whole token now (nothing is taken).</summary>
    public bool IsEmpty(string key, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            return false;
        }

        lock (bucket)
        {
            bucket.Refill(clock.UtcNow, perSecond, burst);
            if (bucket.Tokens >= 1)
            {
                return false;
            }

            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / perSecond);
            return true;
        }
    }

    private void Prune(DateTimeOffset now)
    {
        lock (_pruneGate)
        {
            foreach (var (key, bucket) in _buckets)
            {
                lock (bucket)
                {
                    bucket.Refill(now, perSecond, burst);
                    if (bucket.Tokens >= burst)
                    {
                        _buckets.TryRemove(key, out _);
                    }
                }
            }
        }
    }

    private sealed class Bucket(double tokens, DateTimeOffset at)
    {
        public double Tokens { get; set; } = tokens;

        public DateTimeOffset At { get; private set; } = at;

        public void Refill(DateTimeOffset now, double perSecond, int burst)
        {
            double seconds = (now - At).TotalSeconds;
            if (seconds > 0)
            {
                Tokens = Math.Min(burst, Tokens + (seconds * perSecond));
                At = now;
            }
        }
    }
}
