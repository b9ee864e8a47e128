using Confide.Aggregation;
using Confide.Randomness;
using CsCheck;
using static Confide.Tests.Aggregation.SelectionTestData;

namespace Confide.Tests.Aggregation;

public sealed class FlTrustTests
{
    [Fact]
    public void TrustIsReluCosineAndUpdatesAreRescaledToTheServerNorm()
    {
        // Server g0 = (2, 0), norm 2. Clients:
        //   (2, 0)  cos 1      → trust 1,     rescaled (2, 0)
        //   (0, 3)  cos 0      → trust 0
        //   (1, 1)  cos 1/√2   → trust 1/√2,  rescaled (√2, √2)
        //   (−1, 0) cos −1     → trust 0
        //   (0, 0)  zero norm  → trust 0
        // Aggregate = (1·(2, 0) + (1/√2)·(√2, √2)) / (1 + 1/√2) = (3, 1) / (1 + 1/√2).
        var flTrust = new FlTrust(new float[] { 2f, 0f });
        var rows = Rows([2f, 0f], [0f, 3f], [1f, 1f], [-1f, 0f], [0f, 0f]);
        AggregationResult result = flTrust.Aggregate(rows, [5, 5, 5, 5, 5]);

        double denominator = 1 + (1 / Math.Sqrt(2));
        Assert.Equal(3 / denominator, result.Aggregate[0], 5);
        Assert.Equal(1 / denominator, result.Aggregate[1], 5);
        Assert.Equal([0, 2], result.Selected);
        Assert.Equal([1, 3, 4], result.Flagged.Select(x => x.Index));
        Assert.Contains("cosine to the server update is -1", result.Flagged[1].Reason, StringComparison.Ordinal);
        Assert.Contains("all zeros", result.Flagged[2].Reason, StringComparison.Ordinal);
        Assert.Equal(1.0, result.Scores![0], 12);
        Assert.Equal(0.0, result.Scores[1]);
        Assert.Equal(1 / Math.Sqrt(2), result.Scores[2], 12);
        Assert.Equal(0.0, result.Scores[3]);
        Assert.Equal(0.0, result.Scores[4]);
    }

    [Fact]
    public void AScaledUpClientHasNoMoreInfluenceThanItsDirectionEarns()
    {
        // Rescaling to ‖g0‖ makes a 1000× boosted update count the same as an unboosted one.
        var flTrust = new FlTrust(new float[] { 1f, 1f, 0f });
        var plain = flTrust.Aggregate(Rows([1f, 0f, 0f], [0f, 1f, 1f]), []);
        var boosted = flTrust.Aggregate(Rows([1000f, 0f, 0f], [0f, 1f, 1f]), []);
        AssertClose(plain.Aggregate, boosted.Aggregate, 1e-6);
    }

    [Fact]
    public void AllZeroTrustIsAnErrorByDefault()
    {
        var flTrust = new FlTrust(new float[] { 1f, 0f });
        var ex = Assert.Throws<ArgumentException>(() => flTrust.Aggregate(Rows([-1f, 0f], [0f, 1f], [0f, 0f]), []));
        Assert.Contains("every one of the 3 client updates has trust score 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AllZeroTrustFallback", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllZeroTrustFallsBackToTheServerOrAZeroUpdateWhenConfigured()
    {
        float[] server = [1f, 2f];
        var rows = Rows([-1f, -2f], [2f, -1f]);

        var toServer = new FlTrust(server, new FlTrustOptions { AllZeroTrustFallback = FlTrustFallback.ServerUpdate }).Aggregate(rows, []);
        Assert.Equal(server, toServer.Aggregate);
        Assert.Empty(toServer.Selected);
        Assert.Equal([0, 1], toServer.Flagged.Select(x => x.Index));

        var toZero = new FlTrust(server, new FlTrustOptions { AllZeroTrustFallback = FlTrustFallback.ZeroUpdate }).Aggregate(rows, []);
        Assert.Equal([0f, 0f], toZero.Aggregate);
        Assert.Equal(2, toZero.Flagged.Count);
    }

    [Fact]
    public void TheServerUpdateIsCopiedAndValidated()
    {
        float[] server = [1f, 0f];
        var flTrust = new FlTrust(server);
        server[0] = -1f; // must not change the aggregator
        Assert.Equal([1], flTrust.Aggregate(Rows([-1f, 0f], [1f, 0f]), []).Selected);

        Assert.Contains("all zeros", Assert.Throws<ArgumentException>(() => new FlTrust(new float[3])).Message, StringComparison.Ordinal);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new FlTrust(ReadOnlyMemory<float>.Empty)).Message, StringComparison.Ordinal);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => new FlTrust(new[] { 1f, float.NaN })).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlTrustOptions { AllZeroTrustFallback = (FlTrustFallback)7 });
    }

    [Fact]
    public void ClientUpdatesMustMatchTheServerLengthAndBeFinite()
    {
        var flTrust = new FlTrust(new float[] { 1f, 0f });
        var length = Assert.Throws<ArgumentException>(() => flTrust.Aggregate(Rows([1f, 0f, 0f]), []));
        Assert.Contains("client updates have 3 values but the server update has 2", length.Message, StringComparison.Ordinal);
        var nan = Assert.Throws<ArgumentException>(() => flTrust.Aggregate(Rows([1f, 0f], [float.NaN, 0f]), []));
        Assert.Contains("update 1 contains a non-finite value", nan.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsPermutationInvariant()
    {
        Gen.Select(Gen.Int[1, 12], Gen.Int[1, 40], Gen.Int[0, int.MaxValue]).Sample((n, d, seed) =>
        {
            var random = new SeededRandomSource((ulong)seed);
            var rows = Uniform(random, n, d);
            // A server update correlated with the clients' mean so that some trust is positive.
            var server = new float[d];
            for (int k = 0; k < d; k++)
            {
                server[k] = rows.Sum(r => r.Span[k]) + 0.01f;
            }

            var flTrust = new FlTrust(server, new FlTrustOptions { AllZeroTrustFallback = FlTrustFallback.ZeroUpdate });
            int[] permutation = Permutation(random, n);
            AggregationResult original = flTrust.Aggregate(rows, []);
            AggregationResult shuffled = flTrust.Aggregate(Permute(rows, permutation), []);
            AssertClose(original.Aggregate, shuffled.Aggregate, 1e-5);
            Assert.Equal(original.Selected, shuffled.Selected.Select(k => permutation[k]).Order());
        }, iter: 100);
    }

    [Fact]
    public void ClientsEqualToTheServerGiveTheServerUpdate()
    {
        Gen.Select(Gen.Int[1, 10], Gen.Int[1, 50], Gen.Int[0, int.MaxValue]).Sample((n, d, seed) =>
        {
            var row = Uniform(new SeededRandomSource((ulong)seed), 1, d, scale: 3)[0];
            if (row.Span.IndexOfAnyExcept(0f) < 0)
            {
                return;
            }

            AggregationResult result = new FlTrust(row).Aggregate(Enumerable.Repeat(row, n).ToArray(), []);
            AssertClose(row.Span, result.Aggregate, 1e-5);
            Assert.Equal(n, result.Selected.Count);
        }, iter: 100);
    }
}
