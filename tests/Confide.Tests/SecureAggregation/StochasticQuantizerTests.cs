using Confide.Randomness;
using Confide.SecureAggregation;
using CsCheck;

namespace Confide.Tests.SecureAggregation;

public sealed class StochasticQuantizerTests
{
    [Fact]
    public void SummedEncodingsDecodeToTheWeightedMeanWithinTheStatedBound()
    {
        var gen = Gen.Select(Gen.Int[1, 30], Gen.Int[1, 200], Gen.OneOf(Gen.Const(16), Gen.Const(24), Gen.Const(32), Gen.Const(48), Gen.Const(62)), Gen.ULong);
        gen.Sample((clients, dimension, k, seed) =>
        {
            IRandomSource rng = new SeededRandomSource(seed);
            const double clip = 2.0;
            const long maxWeight = 50;
            var options = QuantizerOptions.WithLargestScale(clip, maxWeight, clients, k);
            var quantizer = new StochasticQuantizer(options);
            ulong modMask = (1UL << k) - 1;
            var sum = new ulong[dimension + 1];
            var exact = new double[dimension];
            long totalWeight = 0;
            for (int c = 0; c < clients; c++)
            {
                // Values in [-3, 3] so that some are clipped; weights in [1, maxWeight].
                var update = new float[dimension];
                for (int i = 0; i < dimension; i++)
                {
                    update[i] = (float)((rng.NextDouble() * 6) - 3);
                }

                long weight = 1 + (long)rng.NextUInt64Below(maxWeight);
                totalWeight += weight;
                for (int i = 0; i < dimension; i++)
                {
                    exact[i] += weight * Math.Clamp(update[i], -clip, clip);
                }

                var encoded = quantizer.Quantize(update, weight, rng);
                for (int i = 0; i < sum.Length; i++)
                {
                    sum[i] = unchecked(sum[i] + encoded[i]) & modMask;
                }
            }

            var mean = new float[dimension];
            Assert.Equal(totalWeight, quantizer.DequantizeMean(sum, mean));
            double bound = quantizer.MeanErrorBound(clients, totalWeight);
            for (int i = 0; i < dimension; i++)
            {
                double expected = exact[i] / totalWeight;
                // Float rounding of the output adds at most half an ulp of a value of magnitude <= clip.
                Assert.True(Math.Abs(mean[i] - expected) <= bound + (clip * 1.2e-7), $"coordinate {i}: {mean[i]} vs {expected}, bound {bound}");
            }
        }, iter: 100);
    }

    [Fact]
    public void StochasticRoundingIsUnbiased()
    {
        // Scale 1 and weight 1: each value v rounds to floor(v) or floor(v) + 1; the mean of N draws has standard
        // deviation sqrt(f(1 - f) / N), f the fraction. Allow five standard deviations.
        var options = new QuantizerOptions(clipRange: 4, scale: 1, maxWeight: 1, maxClients: 1);
        var quantizer = new StochasticQuantizer(options);
        var rng = new SeededRandomSource(123);
        const int n = 200_000;
        foreach (double value in new[] { 0.3, -1.7, 2.5, 0.01, -3.99 })
        {
            var update = Enumerable.Repeat((float)value, n).ToArray();
            var encoded = quantizer.Quantize(update, 1, rng);
            double mean = 0;
            for (int i = 0; i < n; i++)
            {
                mean += quantizer.Signed(encoded[i]);
            }

            mean /= n;
            double v = (float)value;
            double f = v - Math.Floor(v);
            double sd = Math.Sqrt(f * (1 - f) / n);
            Assert.True(Math.Abs(mean - v) <= 5 * sd, $"value {v}: mean {mean}, sd {sd}");
            Assert.All(encoded[..n], q => Assert.InRange(quantizer.Signed(q), (long)Math.Floor(v), (long)Math.Floor(v) + 1));
        }
    }

    [Fact]
    public void ParametersThatCouldOverflowAreRefusedWithTheNumbers()
    {
        var ex = Assert.Throws<ArgumentException>(() => new QuantizerOptions(clipRange: 8, scale: 1024, maxWeight: 1000, maxClients: 500, modulusBits: 32));
        Assert.Contains("500 clients", ex.Message, StringComparison.Ordinal);
        Assert.Contains("max weight 1000", ex.Message, StringComparison.Ordinal);
        Assert.Contains("2^31 - 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("scale of at most", ex.Message, StringComparison.Ordinal);

        var weights = Assert.Throws<ArgumentException>(() => new QuantizerOptions(clipRange: 1e-9, scale: 1, maxWeight: 1L << 20, maxClients: 1 << 12, modulusBits: 32));
        Assert.Contains("summed weight", weights.Message, StringComparison.Ordinal);

        var precision = Assert.Throws<ArgumentException>(() => new QuantizerOptions(clipRange: 1, scale: Math.Pow(2, 53), maxWeight: 1, maxClients: 1, modulusBits: 62));
        Assert.Contains("2^52", precision.Message, StringComparison.Ordinal);

        var noise = Assert.Throws<ArgumentException>(() => new QuantizerOptions(clipRange: 1, scale: 1, maxWeight: 1, maxClients: 2, modulusBits: 8, noiseHeadroomPerClient: 100));
        Assert.Contains("noise headroom 100", noise.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLargestScaleIsAPowerOfTwoRightAtTheLimit()
    {
        var options = QuantizerOptions.WithLargestScale(clipRange: 8, maxWeight: 1000, maxClients: 500, modulusBits: 32);
        Assert.Equal(Math.Pow(2, Math.Round(Math.Log2(options.Scale))), options.Scale);
        Assert.Throws<ArgumentException>(() => new QuantizerOptions(8, options.Scale * 2, 1000, 500, 32));
        Assert.Throws<ArgumentException>(() => QuantizerOptions.WithLargestScale(clipRange: 1, maxWeight: 1L << 40, maxClients: 1 << 20, modulusBits: 32));
    }

    [Fact]
    public void BadInputIsRefused()
    {
        var quantizer = new StochasticQuantizer(new QuantizerOptions(1, 100, 10, 10));
        var rng = new SeededRandomSource(1);
        var nan = Assert.Throws<ArgumentException>(() => quantizer.Quantize([1f, float.NaN], 1, rng));
        Assert.Contains("Update value 1", nan.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => quantizer.Quantize([1f], 11, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => quantizer.Quantize([1f], -1, rng));
        Assert.Throws<ArgumentException>(() => quantizer.Quantize([1f, 2f], 1, rng, new ulong[2]));
        Assert.Throws<ArgumentException>(() => quantizer.DequantizeMean(new ulong[3], new float[2]));
        Assert.Throws<ArgumentException>(() => quantizer.DequantizeMean(new ulong[2], new float[2]));
        Assert.Throws<ArgumentException>(() => quantizer.Signed(1UL << 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizerOptions(0, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizerOptions(1, double.NaN, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizerOptions(1, 1, 1, 1, modulusBits: 63));
        var wide = new StochasticQuantizer(new QuantizerOptions(1, 100, 10, 10, modulusBits: 40));
        Assert.Throws<InvalidOperationException>(() => wide.Quantize([1f], 1, rng, new uint[2]));
    }

    [Fact]
    public void NegativeSumsDecodeThroughTwosComplement()
    {
        var quantizer = new StochasticQuantizer(new QuantizerOptions(clipRange: 1, scale: 4, maxWeight: 3, maxClients: 4, modulusBits: 8));
        Assert.Equal(-1, quantizer.Signed(255));
        Assert.Equal(-128, quantizer.Signed(128));
        Assert.Equal(127, quantizer.Signed(127));
        // -1 exactly is representable (w = 3, s = 4: -12 quanta), so no rounding happens.
        var a = quantizer.Quantize([-1f, 0.5f], 3, new SeededRandomSource(1));
        var b = quantizer.Quantize([-1f, -0.25f], 1, new SeededRandomSource(2));
        var sum = new ulong[3];
        for (int i = 0; i < 3; i++)
        {
            sum[i] = (a[i] + b[i]) & 0xFF;
        }

        var weighted = new double[2];
        Assert.Equal(4, quantizer.DequantizeSum(sum, weighted));
        Assert.Equal([-4.0, 1.25], weighted);
        var mean = new float[2];
        quantizer.DequantizeMean(sum, mean);
        Assert.Equal([-1f, 0.3125f], mean);
    }

    [Fact]
    public void ThirtyTwoBitEncodingEqualsTheSixtyFourBitOne()
    {
        var quantizer = new StochasticQuantizer(new QuantizerOptions(1, 1000, 5, 100, modulusBits: 32));
        var update = Enumerable.Range(0, 5000).Select(i => MathF.Sin(i)).ToArray();
        var wide = quantizer.Quantize(update, 3, new SeededRandomSource(8));
        var narrow = new uint[update.Length + 1];
        quantizer.Quantize(update, 3, new SeededRandomSource(8), narrow);
        Assert.Equal(wide, narrow.Select(x => (ulong)x));
        var mean = new float[update.Length];
        Assert.Equal(3, quantizer.DequantizeMean(narrow, mean));
    }
}
