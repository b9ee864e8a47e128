using Confide.Protocol.SecureAggregation;
using Confide.Randomness;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggRoundTests
{
    [Fact]
    public void HonestRoundWithoutDropoutRecoversTheExactSum()
    {
        using var h = new SecAggHarness(new SecAggOptions(clientCount: 6, threshold: 3, dimension: 17), seed: 1);
        var inbox = h.RunUntil(SecAggStage.Completed);
        Assert.Empty(inbox);
        Assert.Equal(SecAggStage.Completed, h.Server.Stage);
        Assert.Equal(SecAggSimulation.PlainSum(h.Inputs, Enumerable.Range(0, 6), 32), h.Server.Result.Sum);
        Assert.All(h.Clients, c => Assert.Equal(SecAggStage.Completed, c.Stage));
    }

    [Theory]
    [InlineData(SecAggStage.AdvertiseKeys)]
    [InlineData(SecAggStage.ShareKeys)]
    [InlineData(SecAggStage.MaskedInputCollection)]
    [InlineData(SecAggStage.ConsistencyCheck)]
    [InlineData(SecAggStage.Unmasking)]
    public void DropoutAtEachStageStillRecoversTheSurvivorsSum(SecAggStage stage)
    {
        var options = new SecAggOptions(clientCount: 10, threshold: 4, dimension: 33, signatureQuorum: 6);
        var dropouts = SecAggDropouts.At(stage, 2, 5, 9);
        var inputs = RandomInputs(options, new SeededRandomSource(3));
        SecAggSimulationResult run = SecAggSimulation.Run(inputs, options, dropouts, new SeededRandomSource(4));

        Assert.True(run.Completed, run.Error?.Message);
        int[] expectedSurvivors = stage <= SecAggStage.MaskedInputCollection
            ? Enumerable.Range(0, 10).Except([2, 5, 9]).ToArray()
            : Enumerable.Range(0, 10).ToArray();
        Assert.Equal(expectedSurvivors, run.Result!.Survivors);
        Assert.Equal(SecAggSimulation.PlainSum(inputs, expectedSurvivors, 32), run.Result.Sum);
    }

    [Fact]
    public void RandomSizesThresholdsAndDropoutsRecoverTheSumOrAbortExactlyWhenTheOracleSays()
    {
        IRandomSource meta = new SeededRandomSource(20261125);
        int completed = 0, aborted = 0;
        for (int trial = 0; trial < 40; trial++)
        {
            int n = 3 + meta.NextInt32(18);
            int k = 1 + meta.NextInt32(n - 1);
            if (meta.NextInt32(3) == 0)
            {
                k = n - 1;
            }

            int t = 1 + meta.NextInt32(k);
            int d = 1 + meta.NextInt32(50);
            int bits = meta.NextInt32(4) switch { 0 => 8, 1 => 32, 2 => 62, _ => 1 + meta.NextInt32(62) };
            int quorum = 1 + meta.NextInt32(n);
            var options = new SecAggOptions(n, t, d, k, bits, quorum);
            var inputs = RandomInputs(options, meta.Fork((ulong)trial));
            var dropouts = SecAggDropouts.Random(n, meta.NextDouble() * 0.5, meta);

            SecAggSimulationResult run = SecAggSimulation.Run(inputs, options, dropouts, meta.Fork(1000 + (ulong)trial));
            var sets = new SurvivalOracle(options, dropouts, run.Session.Neighbours);
            (SecAggStage? abortAt, int[] survivors) = sets.Predict();
            string context = $"trial {trial}: n={n} k={k} t={t} D={d} bits={bits} quorum={quorum}";
            if (abortAt is null)
            {
                Assert.True(run.Completed, $"{context}: {run.Error?.Message}");
                Assert.Equal(survivors, run.Result!.Survivors);
                Assert.Equal(SecAggSimulation.PlainSum(inputs, survivors, bits), run.Result.Sum);
                completed++;
            }
            else
            {
                Assert.False(run.Completed, context);
                var error = Assert.IsType<SecAggInsufficientSurvivorsException>(run.Error);
                Assert.Equal(abortAt, error.Stage);
                Assert.Contains(abortAt.ToString()!, error.Message, StringComparison.Ordinal);
                aborted++;
            }
        }

        // The seed was chosen so both outcomes occur; a protocol that always aborted or never did would fail here.
        Assert.True(completed >= 10, $"only {completed} rounds completed");
        Assert.True(aborted >= 3, $"only {aborted} rounds aborted");
    }

    internal static ulong[][] RandomInputs(SecAggOptions options, IRandomSource random)
    {
        var inputs = new ulong[options.ClientCount][];
        for (int u = 0; u < inputs.Length; u++)
        {
            inputs[u] = new ulong[options.Dimension];
            for (int i = 0; i < options.Dimension; i++)
            {
                inputs[u][i] = random.NextUInt64() & options.ModulusMask;
            }
        }

        return inputs;
    }
}
