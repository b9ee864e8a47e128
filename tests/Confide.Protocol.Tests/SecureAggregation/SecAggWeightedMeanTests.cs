using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

public sealed class SecAggWeightedMeanTests
{
    [Fact]
    public void DequantizedMeanIsWithinTheQuantizationBoundOfTheSurvivorsWeightedMean()
    {
        IRandomSource meta = new SeededRandomSource(4242);
        int checkedRounds = 0;
        for (int trial = 0; trial < 12; trial++)
        {
            int n = 4 + meta.NextInt32(17);
            int d = 1 + meta.NextInt32(50);
            int bits = trial % 2 == 0 ? 32 : 48;
            var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(clipRange: 1.0, maxWeight: 100, maxClients: n, modulusBits: bits));
            var options = new SecAggOptions(n, threshold: (n / 3) + 1, dimension: d + 1, modulusBits: bits, signatureQuorum: (n / 3) + 1);
            var updates = new float[n][];
            var weights = new long[n];
            for (int u = 0; u < n; u++)
            {
                updates[u] = Enumerable.Range(0, d).Select(_ => (float)((meta.NextDouble() * 4) - 2)).ToArray();
                weights[u] = 1 + meta.NextInt32(100);
            }

            var dropouts = SecAggDropouts.Random(n, 0.25, meta);
            SecAggMeanResult result = SecAggSimulation.RunWeightedMean(updates, weights, quantizer, options, dropouts, meta.Fork((ulong)trial));
            if (result.Mean is null)
            {
                Assert.IsType<SecAggInsufficientSurvivorsException>(result.Round.Error);
                continue;
            }

            IReadOnlyList<int> survivors = result.Round.Result!.Survivors;
            long total = survivors.Sum(u => weights[u]);
            Assert.Equal(total, result.TotalWeight);
            for (int i = 0; i < d; i++)
            {
                double exact = survivors.Sum(u => weights[u] * Math.Clamp((double)updates[u][i], -1.0, 1.0)) / total;
                double tolerance = result.ErrorBound + (1e-6 * Math.Max(1, Math.Abs(exact)));
                Assert.True(Math.Abs(result.Mean[i] - exact) <= tolerance, $"trial {trial}, coordinate {i}: {result.Mean[i]} vs {exact} (bound {result.ErrorBound})");
            }

            checkedRounds++;
        }

        Assert.True(checkedRounds >= 6, $"only {checkedRounds} rounds completed");
    }

    [Fact]
    public void RefusesAQuantizerWhoseHeadroomDoesNotCoverTheClients()
    {
        var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(1.0, 10, maxClients: 3));
        var options = new SecAggOptions(5, 2, 3);
        var updates = Enumerable.Range(0, 5).Select(_ => new float[2]).ToArray();
        var ex = Assert.Throws<ArgumentException>(() => SecAggSimulation.RunWeightedMean(updates, [1, 1, 1, 1, 1], quantizer, options, SecAggDropouts.None, new SeededRandomSource(1)));
        Assert.Contains("overflow", ex.Message, StringComparison.Ordinal);
    }
}
