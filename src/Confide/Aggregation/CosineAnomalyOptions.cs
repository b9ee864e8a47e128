namespace Confide.Aggregation;

/// <summary>Options for <see cref="CosineAnomalyDetector"/>. Both are in cosine-distance units, which do not depend on the updates' scale.</summary>
public sealed record CosineAnomalyOptions
{
    /// <summary>
    /// k in the rule "flag when the score exceeds median + k·spread". The default 3 is the usual Hampel identifier
    /// cut-off (Leys et al. 2013 recommend 2.5 to 3).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive and finite.</exception>
    public double Threshold
    {
        get;
        init
        {
            if (!(value > 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Threshold k must be positive and finite.");
            }

            field = value;
        }
    } = 3.0;

    /// <summary>
    /// The smallest spread used, in cosine distance (0..2). When most updates are nearly parallel the MAD is close to 0,
    /// and without a floor tiny rounding differences would be flagged. Default 0.01.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, not finite, or above 2.</exception>
    public double MinimumSpread
    {
        get;
        init
        {
            if (!(value >= 0) || value > 2)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "MinimumSpread must be in [0, 2] (cosine-distance units).");
            }

            field = value;
        }
    } = 0.01;
}
