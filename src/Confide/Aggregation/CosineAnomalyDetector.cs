using System.Globalization;
using Confide.Aggregation.Internal;

namespace Confide.Aggregation;

/// <summary>
/// Flags updates whose direction disagrees with most others, by a robust outlier rule on cosine distances.
/// </summary>
/// <remarks>
/// <para>The rule. For every non-zero update i, its score sᵢ is the median over the other non-zero updates j of the cosine
/// distance 1 − cos(gᵢ, gⱼ). With M = median(s) and spread = max(1.4826·MAD(s), <see cref="CosineAnomalyOptions.MinimumSpread"/>),
/// update i is flagged when sᵢ &gt; M + k·spread (k = <see cref="CosineAnomalyOptions.Threshold"/>). This is the Hampel
/// identifier (median and median absolute deviation; Hampel 1974, recommended by Leys et al. 2013, "Detecting outliers: Do not
/// use standard deviation around the mean, use absolute deviation around the median") applied to the per-client median
/// cosine distance, in the spirit of the cosine-distance clustering of FLAME (Nguyen et al. 2022) and the seed guide.</para>
/// <para>It is scale-free: cosine distances do not change when all updates, or any one of them, are multiplied by a positive
/// constant. The seed's DBSCAN with a fixed eps = 0.5 on raw vectors flagged everything or nothing depending on scale.
/// The flip side is that a client that only scales its update up (model replacement) is not flagged; pair this with
/// a norm bound for that.</para>
/// <para>Because both medians tolerate up to half the inputs, a colluding group of fewer than half the clients pointing
/// the same wrong way is still flagged, and strictly fewer than half of the non-zero updates can ever be flagged.</para>
/// <para>An all-zero update has no direction: it is flagged (score +∞) and left out of everyone else's medians.
/// At least three non-zero updates are needed.</para>
/// </remarks>
public sealed class CosineAnomalyDetector : IAnomalyDetector
{
    /// <summary>The consistency constant that makes the MAD estimate a normal standard deviation.</summary>
    private const double MadToSigma = 1.4826;

    /// <summary>Creates the detector; <paramref name="options"/> defaults to k = 3 and a spread floor of 0.01.</summary>
    public CosineAnomalyDetector(CosineAnomalyOptions? options = null) => Options = options ?? new CosineAnomalyOptions();

    /// <summary>The options in force.</summary>
    public CosineAnomalyOptions Options { get; }

    /// <inheritdoc />
    public string Name => "cosine-anomaly";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">Fewer than three non-zero updates, lengths differ, or a non-finite value.</exception>
    public AnomalyReport Detect(IReadOnlyList<ReadOnlyMemory<float>> updates)
    {
        RobustInputChecks.CheckUpdates("Cosine anomaly detection", updates, []);
        int n = updates.Count;
        double[] gram = PairwiseDistances.Gram(updates);
        var live = new List<int>(n);
        for (int i = 0; i < n; i++)
        {
            if (gram[(i * n) + i] > 0)
            {
                live.Add(i);
            }
        }

        if (live.Count < 3)
        {
            throw new ArgumentException(
                $"Cosine anomaly detection needs at least 3 non-zero updates to estimate what is typical; got {live.Count} of {n}.",
                nameof(updates));
        }

        var scores = new double[n];
        Array.Fill(scores, double.PositiveInfinity);
        var others = new double[live.Count - 1];
        foreach (int i in live)
        {
            int count = 0;
            foreach (int j in live)
            {
                if (j != i)
                {
                    double cosine = gram[(i * n) + j] / Math.Sqrt(gram[(i * n) + i] * gram[(j * n) + j]);
                    others[count++] = Math.Clamp(1.0 - cosine, 0.0, 2.0);
                }
            }

            scores[i] = Median(others);
        }

        double[] liveScores = live.Select(i => scores[i]).ToArray();
        double center = Median(liveScores);
        double mad = Median(liveScores.Select(s => Math.Abs(s - center)).ToArray());
        double spread = Math.Max(MadToSigma * mad, Options.MinimumSpread);
        double threshold = center + (Options.Threshold * spread);

        var flagged = new List<FlaggedInput>();
        for (int i = 0; i < n; i++)
        {
            if (double.IsPositiveInfinity(scores[i]))
            {
                flagged.Add(new FlaggedInput(i, "flagged by cosine anomaly detection: the update is all zeros, so it has no direction"));
            }
            else if (scores[i] > threshold)
            {
                flagged.Add(new FlaggedInput(
                    i,
                    $"flagged by cosine anomaly detection: median cosine distance to the others {F(scores[i])} exceeds " +
                    $"{F(threshold)} (median {F(center)} + {F(Options.Threshold)} × spread {F(spread)})"));
            }
        }

        return new AnomalyReport(flagged, scores, threshold);
    }

    private static string F(double value) => value.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>Median, with the midpoint of the two middle values for an even count. Sorts <paramref name="values"/>.</summary>
    private static double Median(double[] values)
    {
        Array.Sort(values);
        int m = values.Length;
        return (m & 1) == 1 ? values[m / 2] : 0.5 * (values[(m / 2) - 1] + values[m / 2]);
    }
}
