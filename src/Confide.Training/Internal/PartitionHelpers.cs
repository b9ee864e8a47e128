namespace Confide.Training.Internal;

/// <summary>Checks and helpers shared by the partitioners.</summary>
internal static class PartitionHelpers
{
    public static void Check(int samples, int classCount, int clients)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clients);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (samples < clients)
        {
            throw new ArgumentException($"{samples} samples cannot be split among {clients} clients; each client needs at least one.");
        }
    }

    public static int[][] Sorted(List<int>[] parts) => parts.Select(p => p.Order().ToArray()).ToArray();

    /// <summary>Cuts <paramref name="items"/> into consecutive pieces whose sizes follow <paramref name="proportions"/>.</summary>
    public static void CutByProportions(ReadOnlySpan<int> items, double[] proportions, List<int>[] parts)
    {
        int n = items.Length;
        double cumulative = 0;
        int start = 0;
        for (int j = 0; j < parts.Length; j++)
        {
            cumulative += proportions[j];
            int end = j == parts.Length - 1 ? n : Math.Min(n, (int)Math.Round(cumulative * n));
            for (int i = start; i < end; i++)
            {
                parts[j].Add(items[i]);
            }

            start = Math.Max(start, end);
        }
    }
}
