using System.Numerics;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;
using CsCheck;

namespace Confide.Tests.SecureAggregation;

public sealed class ShamirSecretSharingTests
{
    [Fact]
    public void AnyTOfNSharesReconstructTheSecret()
    {
        var gen = Gen.Select(Gen.Int[1, 12], Gen.Int[0, 1000], Gen.Byte.Array[1, 40], Gen.ULong);
        gen.Sample((n, tPick, secret, seed) =>
        {
            int t = 1 + (tPick % n);
            IRandomSource rng = new SeededRandomSource(seed);
            var sss = new ShamirSecretSharing(t, rng);
            var shares = sss.Split(secret, n);
            Assert.Equal(n, shares.Length);

            // A random subset of exactly t shares, in random order, and a random superset of it.
            var order = Enumerable.Range(0, n).OrderBy(_ => rng.NextUInt64()).ToArray();
            var exact = order.Take(t).Select(i => shares[i]).ToArray();
            Assert.Equal(secret, sss.Reconstruct(exact));
            int m = t + rng.NextInt32(n - t + 1);
            var more = order.Take(m).Select(i => shares[i]).ToArray();
            Assert.Equal(secret, sss.Reconstruct(more));
        }, iter: 300);
    }

    [Fact]
    public void SharesAtChosenPointsReconstruct()
    {
        var sss = new ShamirSecretSharing(3, new SeededRandomSource(1));
        var secret = Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray();
        var shares = sss.Split(secret, [5, 9, 100, 2_000_000_000]);
        Assert.Equal([5, 9, 100, 2_000_000_000], shares.Select(s => s.X));
        Assert.Equal(5, shares[0].Values.Length);
        Assert.Equal(secret, sss.Reconstruct([shares[3], shares[0], shares[2]]));
        Assert.Equal(secret, sss.Reconstruct(shares));
    }

    [Fact]
    public void ThresholdOneSharesAreTheSecretChunks()
    {
        var sss = new ShamirSecretSharing(1, new SeededRandomSource(2));
        byte[] secret = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var shares = sss.Split(secret, 3);
        Assert.All(shares, s => Assert.Equal(new ulong[] { 0x07060504030201UL, 0x0908UL }, s.Values.ToArray()));
    }

    [Fact]
    public void TMinusOneSharesHaveTheSameUniformDistributionForDifferentSecrets()
    {
        // t = 3: the t − 1 = 2 shares at x = 2 and x = 7 of two different secrets. Bucket the pair by the top 3 bits of each
        // value (64 cells) and test (a) each against the uniform distribution and (b) the two against each other.
        const int samples = 20_000;
        const int cells = 64;
        byte[] secretA = new byte[14];
        byte[] secretB = Enumerable.Repeat((byte)0xFF, 14).ToArray();
        var countsA = Histogram(secretA, new SeededRandomSource(10));
        var countsB = Histogram(secretB, new SeededRandomSource(11));

        double expected = samples / (double)cells;
        double uniformA = countsA.Sum(c => (c - expected) * (c - expected) / expected);
        double uniformB = countsB.Sum(c => (c - expected) * (c - expected) / expected);
        double homogeneity = 0;
        for (int i = 0; i < cells; i++)
        {
            // Two-sample chi-square with equal sample sizes.
            double total = countsA[i] + countsB[i];
            if (total > 0)
            {
                homogeneity += (countsA[i] - countsB[i]) * (double)(countsA[i] - countsB[i]) / total;
            }
        }

        double limit = ChiSquareQuantile999(cells - 1);
        Assert.True(uniformA < limit, $"secret A: chi-square {uniformA:F1} >= {limit:F1}");
        Assert.True(uniformB < limit, $"secret B: chi-square {uniformB:F1} >= {limit:F1}");
        Assert.True(homogeneity < limit, $"A vs B: chi-square {homogeneity:F1} >= {limit:F1}");

        static long[] Histogram(byte[] secret, IRandomSource rng)
        {
            var sss = new ShamirSecretSharing(3, rng);
            var counts = new long[cells];
            for (int i = 0; i < samples; i++)
            {
                var shares = sss.Split(secret, [2, 7, 11]); // only x = 2 and x = 7 are looked at
                // The last chunk of a 14-byte secret: check the first and the second chunk alternately.
                int c = i & 1;
                int cell = (int)((shares[0].Values[c] >> 58) * 8 + (shares[1].Values[c] >> 58));
                counts[cell]++;
            }

            return counts;
        }
    }

    [Fact]
    public void ACorruptExtraShareIsDetected()
    {
        var gen = Gen.Select(Gen.Int[2, 10], Gen.ULong, Gen.Int[0, 100], Gen.ULong[1, Mersenne61.P - 1]);
        gen.Sample((t, seed, which, delta) =>
        {
            var rng = new SeededRandomSource(seed);
            var sss = new ShamirSecretSharing(t, rng);
            var secret = new byte[20];
            rng.NextBytes(secret);
            var shares = sss.Split(secret, t + 2);
            int victim = which % shares.Length;
            int chunk = which % shares[victim].Values.Length;
            shares[victim] = Tamper(shares[victim], chunk, delta);
            var ex = Assert.Throws<SecretSharingException>(() => sss.Reconstruct(shares));
            Assert.Equal(SecretSharingError.Inconsistent, ex.Error);
        }, iter: 200);
    }

    [Fact]
    public void ACorruptShareAmongExactlyTNeverYieldsTheOriginalSecret()
    {
        var rng = new SeededRandomSource(5);
        var sss = new ShamirSecretSharing(4, rng);
        var secret = new byte[32];
        rng.NextBytes(secret);
        for (int trial = 0; trial < 50; trial++)
        {
            var shares = sss.Split(secret, 4);
            shares[trial % 4] = Tamper(shares[trial % 4], trial % 5, 1 + (ulong)trial);
            try
            {
                Assert.NotEqual(secret, sss.Reconstruct(shares));
            }
            catch (SecretSharingException ex)
            {
                Assert.Equal(SecretSharingError.Inconsistent, ex.Error);
            }
        }
    }

    [Fact]
    public void DuplicateXIsRefused()
    {
        var sss = new ShamirSecretSharing(2, new SeededRandomSource(3));
        var shares = sss.Split(new byte[] { 1, 2, 3 }, 3);
        var ex = Assert.Throws<SecretSharingException>(() => sss.Reconstruct([shares[0], shares[1], shares[1]]));
        Assert.Equal(SecretSharingError.DuplicateX, ex.Error);
        Assert.Contains("x = 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooFewSharesAreRefused()
    {
        var sss = new ShamirSecretSharing(3, new SeededRandomSource(3));
        var shares = sss.Split(new byte[] { 1, 2, 3 }, 5);
        var ex = Assert.Throws<SecretSharingException>(() => sss.Reconstruct(shares[..2]));
        Assert.Equal(SecretSharingError.TooFewShares, ex.Error);
        Assert.Contains("at least 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SharesOfDifferentLengthsAreRefused()
    {
        var sss = new ShamirSecretSharing(2, new SeededRandomSource(3));
        var a = sss.Split(new byte[10], 3);
        var b = sss.Split(new byte[11], 3);
        var ex = Assert.Throws<SecretSharingException>(() => sss.Reconstruct([a[0], b[1]]));
        Assert.Equal(SecretSharingError.LengthMismatch, ex.Error);
        var wrongCount = Assert.Throws<SecretSharingException>(() => new ShamirShare(1, 10, new ulong[3]));
        Assert.Equal(SecretSharingError.LengthMismatch, wrongCount.Error);
        Assert.Throws<ArgumentException>(() => sss.Reconstruct(a[..2], new byte[9]));
    }

    [Fact]
    public void EncodingRoundTripsAndMalformedEncodingsAreRefused()
    {
        var sss = new ShamirSecretSharing(2, new SeededRandomSource(4));
        var shares = sss.Split(new byte[32], 3);
        var bytes = shares[2].ToBytes();
        Assert.Equal(shares[2].EncodedLength, bytes.Length);
        var back = ShamirShare.FromBytes(bytes);
        Assert.Equal(3, back.X);
        Assert.Equal(32, back.SecretLength);
        Assert.Equal(shares[2].Values.ToArray(), back.Values.ToArray());

        Assert.Equal(SecretSharingError.MalformedShare, Assert.Throws<SecretSharingException>(() => ShamirShare.FromBytes(bytes[..^1])).Error);
        var outOfField = (byte[])bytes.Clone();
        outOfField.AsSpan(8, 8).Fill(0xFF);
        Assert.Equal(SecretSharingError.MalformedShare, Assert.Throws<SecretSharingException>(() => ShamirShare.FromBytes(outOfField)).Error);
        var zeroX = (byte[])bytes.Clone();
        zeroX.AsSpan(0, 4).Clear();
        Assert.Equal(SecretSharingError.MalformedShare, Assert.Throws<SecretSharingException>(() => ShamirShare.FromBytes(zeroX)).Error);
        var truncatedValues = bytes[..^8];
        Assert.Equal(SecretSharingError.LengthMismatch, Assert.Throws<SecretSharingException>(() => ShamirShare.FromBytes(truncatedValues)).Error);
    }

    [Fact]
    public void SplitArgumentsAreChecked()
    {
        var sss = new ShamirSecretSharing(3, new SeededRandomSource(4));
        Assert.Throws<ArgumentException>(() => sss.Split([], 3));
        Assert.Throws<ArgumentException>(() => sss.Split(new byte[4], [1, 2]));
        Assert.Throws<ArgumentException>(() => sss.Split(new byte[4], [1, 2, 2]));
        Assert.Throws<ArgumentException>(() => sss.Split(new byte[4], [0, 1, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShamirSecretSharing(0, new SeededRandomSource(1)));
    }

    [Fact]
    public void SharesAreZeroedOnDisposeAndNeverPrinted()
    {
        var sss = new ShamirSecretSharing(2, new SeededRandomSource(9));
        var share = sss.Split(new byte[] { 42, 43 }, 2)[0];
        Assert.DoesNotContain(share.Values[0].ToString(System.Globalization.CultureInfo.InvariantCulture), share.ToString(), StringComparison.Ordinal);
        share.Dispose();
        Assert.All(share.Values.ToArray(), v => Assert.Equal(0UL, v));
    }

    [Fact]
    public void FieldArithmeticMatchesBigInteger()
    {
        var p = new BigInteger(Mersenne61.P);
        Gen.Select(Gen.ULong[0, Mersenne61.P - 1], Gen.ULong[0, Mersenne61.P - 1]).Sample((a, b) =>
        {
            Assert.Equal((ulong)(new BigInteger(a) * b % p), Mersenne61.Mul(a, b));
            Assert.Equal((ulong)((new BigInteger(a) + b) % p), Mersenne61.Add(a, b));
            Assert.Equal((ulong)(((new BigInteger(a) - b) % p + p) % p), Mersenne61.Sub(a, b));
            if (a != 0)
            {
                Assert.Equal(1UL, Mersenne61.Mul(a, Mersenne61.Inverse(a)));
            }
        }, iter: 2000);
        Assert.Equal(1UL, Mersenne61.Mul(Mersenne61.P - 1, Mersenne61.P - 1));
    }

    private static ShamirShare Tamper(ShamirShare share, int chunk, ulong delta)
    {
        var values = share.Values.ToArray();
        values[chunk] = Mersenne61.Add(values[chunk], delta % Mersenne61.P == 0 ? 1 : delta % Mersenne61.P);
        return new ShamirShare(share.X, share.SecretLength, values);
    }

    // Wilson–Hilferty approximation of the 0.999 quantile of chi-square with df degrees of freedom.
    private static double ChiSquareQuantile999(int df)
    {
        const double z = 3.0902;
        double a = 2.0 / (9.0 * df);
        return df * Math.Pow(1 - a + (z * Math.Sqrt(a)), 3);
    }
}
