using Confide.Aggregation;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggGroupsTests
{
    private const int N = 20;
    private const int D = 8;

    [Fact]
    public void MedianOfGroupMeansResistsAttackersThatShiftThePlainSecureMean()
    {
        IRandomSource random = new SeededRandomSource(31);
        var updates = new float[N][];
        for (int u = 0; u < N; u++)
        {
            updates[u] = Enumerable.Range(0, D).Select(_ => (float)((random.NextDouble() * 0.2) - 0.1)).ToArray();
        }

        int[] attackers = [3, 11];
        foreach (int a in attackers)
        {
            updates[a] = Enumerable.Repeat(50f, D).ToArray(); // clipped to +1 by the quantizer
        }

        long[] weights = Enumerable.Repeat(10L, N).ToArray();
        double[] honestMean = Enumerable.Range(0, D)
            .Select(i => Enumerable.Range(0, N).Where(u => !attackers.Contains(u)).Average(u => (double)updates[u][i])).ToArray();

        SecAggGroupResult plain = SecAggGroups.Run(updates, weights, 1, new FedAvg(), 1.0, 10, null, SecAggDropouts.None, new SeededRandomSource(1));
        SecAggGroupResult robust = SecAggGroups.Run(updates, weights, 5, new CoordinateMedian(), 1.0, 10, null, SecAggDropouts.None, new SeededRandomSource(1));

        double plainError = MaxError(plain.Aggregate.Aggregate, honestMean);
        double robustError = MaxError(robust.Aggregate.Aggregate, honestMean);

        // Two attackers at +1 among 20 clients move the plain mean by about 2/20 · (1 − 0) = 0.1.
        Assert.True(plainError > 0.08, $"plain error {plainError}");
        // The median of 5 group means, at most 2 of them touched, stays within the spread of honest group means.
        Assert.True(robustError < 0.06, $"robust error {robustError}");
        Assert.Equal(5, robust.Groups.Count);
        Assert.Equal(Enumerable.Range(0, N), robust.Groups.SelectMany(g => g).Order());
        Assert.All(robust.GroupRounds, r => Assert.True(r.Round.Completed));
    }

    [Fact]
    public void AnAbortedGroupIsLeftOutAndReportedByItsNumber()
    {
        var updates = Enumerable.Range(0, N).Select(u => Enumerable.Repeat((float)u / N, D).ToArray()).ToArray();
        long[] weights = Enumerable.Repeat(1L, N).ToArray();

        // Find the group client 0 lands in, then drop all but one of its members before they mask.
        SecAggGroupResult first = SecAggGroups.Run(updates, weights, 4, new FedAvg(), 1.0, 1, null, SecAggDropouts.None, new SeededRandomSource(9));
        int victim = first.Groups.Select((g, i) => (g, i)).First(x => x.g.Contains(0)).i;
        var dropouts = SecAggDropouts.At(SecAggStage.MaskedInputCollection, first.Groups[victim].Skip(1));
        SecAggGroupResult second = SecAggGroups.Run(updates, weights, 4, new FedAvg(), 1.0, 1, null, dropouts, new SeededRandomSource(9));

        Assert.False(second.GroupRounds[victim].Round.Completed);
        Assert.DoesNotContain(victim, second.Aggregate.Selected);
        Assert.Equal(3, second.Aggregate.Selected.Count);
    }

    [Fact]
    public void RejectsGroupsOfFewerThanTwoClients()
    {
        var updates = Enumerable.Range(0, 5).Select(_ => new float[2]).ToArray();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => SecAggGroups.Run(updates, [1, 1, 1, 1, 1], 3, new FedAvg(), 1.0, 1, null, SecAggDropouts.None, new SeededRandomSource(1)));
        Assert.Equal("groups", ex.ParamName);
    }

    private static double MaxError(float[] actual, double[] expected) =>
        actual.Select((v, i) => Math.Abs(v - expected[i])).Max();
}
