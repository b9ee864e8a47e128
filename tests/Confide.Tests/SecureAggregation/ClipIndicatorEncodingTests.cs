using Confide.Randomness;
using Confide.SecureAggregation;
using CsCheck;

namespace Confide.Tests.SecureAggregation;

public sealed class ClipIndicatorEncodingTests
{
    [Fact]
    public void The_sum_splits_into_the_same_weighted_sum_as_without_the_bit_plus_the_exact_count()
    {
        var gen = Gen.Select(Gen.Int[1, 40], Gen.Int[1, 50], Gen.OneOf(Gen.Const(16), Gen.Const(32), Gen.Const(62)), Gen.ULong);
        gen.Sample((clients, dimension, k, seed) =>
        {
            var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(0.5, 1, clients, k));
            ulong modMask = (1UL << k) - 1;
            var withBit = new ulong[ClipIndicatorEncoding.EncodedLength(dimension)];
            var without = new ulong[StochasticQuantizer.EncodedLength(dimension)];
            long count = 0;
            IRandomSource data = new SeededRandomSource(seed);
            for (int c = 0; c < clients; c++)
            {
                var update = new float[dimension];
                for (int i = 0; i < dimension; i++)
                {
                    update[i] = (float)((data.NextDouble() * 2) - 1);
                }

                bool bit = data.NextInt32(2) == 1;
                count += bit ? 1 : 0;
                // The same rounding stream for both encodings, so the value coordinates must agree exactly.
                var a = ClipIndicatorEncoding.Quantize(quantizer, update, 1, bit, new SeededRandomSource(unchecked(seed + (ulong)c)));
                var b = quantizer.Quantize(update, 1, new SeededRandomSource(unchecked(seed + (ulong)c)));
                Assert.Equal(bit ? 1UL : 0UL, a[^1]);
                Assert.Equal(b, a[..^1]);
                for (int i = 0; i < withBit.Length; i++)
                {
                    withBit[i] = unchecked(withBit[i] + a[i]) & modMask;
                }

                for (int i = 0; i < without.Length; i++)
                {
                    without[i] = unchecked(without[i] + b[i]) & modMask;
                }
            }

            var split = new double[dimension];
            var plain = new double[dimension];
            Assert.Equal(clients, ClipIndicatorEncoding.DequantizeSum(quantizer, withBit, split, out long decodedCount));
            Assert.Equal(clients, quantizer.DequantizeSum(without, plain));
            Assert.Equal(count, decodedCount);
            Assert.Equal(plain, split);
        }, iter: 60);
    }

    [Fact]
    public void A_bit_outside_0_or_1_shows_as_a_count_outside_0_to_n()
    {
        var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(1.0, 1, 4, 32));
        var a = ClipIndicatorEncoding.Quantize(quantizer, [0.1f], 1, true, new SeededRandomSource(1));
        a[^1] = (1UL << 32) - 5; // a client that sent −5
        Assert.Equal(1, ClipIndicatorEncoding.DequantizeSum(quantizer, a, new double[1], out long count));
        Assert.Equal(-5, count);
    }

    [Fact]
    public void Wrong_lengths_are_refused_with_the_expected_layout()
    {
        var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(1.0, 1, 4, 32));
        var ex = Assert.Throws<ArgumentException>(() => ClipIndicatorEncoding.DequantizeSum(quantizer, new ulong[4], new double[3], out _));
        Assert.Contains("has 5 entries (values, weight, indicator), not 4", ex.Message);
        Assert.Equal(5, ClipIndicatorEncoding.EncodedLength(3));
    }

    [Fact]
    public void The_count_fits_whenever_the_quantizer_options_are_valid()
    {
        // Two-bit modulus: the weight rule already caps the clients at 2^(k−1) − 1 = 1, so the count fits too.
        var tight = new QuantizerOptions(1.0, 0.25, 1, 1, 2);
        ClipIndicatorEncoding.CheckHeadroom(tight);
        Assert.Throws<ArgumentException>(() => new QuantizerOptions(1.0, 0.25, 1, 2, 2));
    }
}
