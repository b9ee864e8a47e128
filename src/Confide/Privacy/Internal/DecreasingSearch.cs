namespace Confide.Privacy.Internal;

/// <summary>The search both noise calibrations share: the smallest x at which a decreasing f meets a target.</summary>
internal static class DecreasingSearch
{
    /// <summary>
    /// Doubles an upper bracket from <paramref name="start"/> until f(hi) ≤ <paramref name="target"/>, then bisects until
    /// the bracket is narrower than <paramref name="width"/>(hi). Returns the bracket's upper end, which always meets the
    /// target, or null when the bracket would pass <paramref name="max"/>.
    /// </summary>
    public static double? SmallestMeeting(Func<double, double> f, double target, double start, double max, Func<double, double> width)
    {
        double lo = 0, hi = start;
        while (f(hi) > target)
        {
            lo = hi;
            hi *= 2;
            if (hi > max)
            {
                return null;
            }
        }

        while (hi - lo > width(hi))
        {
            double mid = lo + ((hi - lo) / 2);
            if (f(mid) <= target)
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }

        return hi;
    }
}
