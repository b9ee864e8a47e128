using Confide.Randomness;

namespace Confide.Training.Data;

/// <summary>Seeded, disjoint splits of a data set.</summary>
public static class DatasetSplitter
{
    /// <summary>
    /// Splits <paramref name="all"/> into a test set of ⌊fraction·n⌉ samples, a root set of <paramref name="rootSize"/>
    /// samples and the rest for clients, by one random permutation, so the three parts are disjoint.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside (0, 1) or the parts do not fit.</exception>
    public static FederatedDataset Split(Dataset all, double testFraction, int rootSize, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(all);
        ArgumentNullException.ThrowIfNull(random);
        if (!(testFraction > 0 && testFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must lie strictly between 0 and 1.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(rootSize);
        int testCount = (int)Math.Round(testFraction * all.Count);
        if (testCount == 0 || testCount + rootSize >= all.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(rootSize), $"A test set of {testCount} and a root set of {rootSize} leave no samples for clients out of {all.Count}.");
        }

        var order = Permutation(all.Count, random);
        return new FederatedDataset(
            all.Subset(order.AsSpan(testCount + rootSize), all.Name + "/clients"),
            all.Subset(order.AsSpan(0, testCount), all.Name + "/test"),
            all.Subset(order.AsSpan(testCount, rootSize), all.Name + "/root"));
    }

    /// <summary>Keeps a given test set and carves a root set of <paramref name="rootSize"/> samples out of <paramref name="train"/>.</summary>
    public static FederatedDataset WithRoot(Dataset train, Dataset test, int rootSize, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegative(rootSize);
        if (rootSize >= train.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(rootSize), $"A root set of {rootSize} leaves no samples for clients out of {train.Count}.");
        }

        var order = Permutation(train.Count, random);
        return new FederatedDataset(
            train.Subset(order.AsSpan(rootSize), train.Name + "/clients"),
            test,
            train.Subset(order.AsSpan(0, rootSize), train.Name + "/root"));
    }

    /// <summary>A uniformly random permutation of 0..n−1 (Fisher–Yates).</summary>
    public static int[] Permutation(int n, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }
}
