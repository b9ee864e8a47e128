namespace Confide.Training.Partitioning;

/// <summary>Measures of how non-IID a partition is.</summary>
public static class PartitionStatistics
{
    /// <summary>
    /// The mean over clients of log K − H(client's label distribution), in nats: 0 when every client sees all K labels
    /// equally often, log K when every client sees one label.
    /// </summary>
    public static double MeanLabelEntropyDeficit(ReadOnlySpan<int> labels, int[][] parts, int classCount)
    {
        ArgumentNullException.ThrowIfNull(parts);
        double total = 0;
        var counts = new int[classCount];
        foreach (var part in parts)
        {
            Array.Clear(counts);
            foreach (int i in part)
            {
                counts[labels[i]]++;
            }

            double h = 0;
            foreach (int c in counts)
            {
                if (c > 0)
                {
                    double p = (double)c / part.Length;
                    h -= p * Math.Log(p);
                }
            }

            total += Math.Log(classCount) - h;
        }

        return total / parts.Length;
    }
}
