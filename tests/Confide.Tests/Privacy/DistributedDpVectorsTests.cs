using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Confide.Privacy;
using Confide.Randomness;
using Confide.Testing;

namespace Confide.Tests.Privacy;

/// <summary>
/// docs/ddp-vectors.json: the published known-answer vectors of the distributed-DP client primitives (the seeded test
/// source, the exact discrete Gaussian, DistributedDpPlan). clients/python/ddp_vectors.py checks the independent Python
/// client against the same file; this keeps the .NET side to what was published.
/// </summary>
public sealed class DistributedDpVectorsTests
{
    // The client's per-round noise stream (SecAggWireClient): Fork(NoiseStream + round).
    private const ulong NoiseStream = 0x6444_5000_0000_0000;
    private static readonly float[] Update = [0.1f, -0.25f, 0.5f, -0.3f, 0.0031f, -0.0031f, 0.7f];
    private static readonly JsonElement Vectors = Load();

    private static JsonElement Load()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(RepositoryFiles.Path("docs", "ddp-vectors.json")));
        return document.RootElement.GetProperty("vectors").Clone();
    }

    private static string[] Strings(string name) => Vectors.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    private static string[] Words(IEnumerable<ulong> words) => words.Select(w => w.ToString(CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void The_seeded_source_and_the_discrete_gaussian_match_the_published_draws()
    {
        var r = new SeededRandomSource(42);
        Assert.Equal(Strings("seeded42"), Words(Enumerable.Range(0, 4).Select(_ => r.NextUInt64())));
        var f = new SeededRandomSource(42).Fork(5);
        Assert.Equal(Strings("seeded42_fork5"), Words(Enumerable.Range(0, 3).Select(_ => f.NextUInt64())));

        foreach (ulong variance in new ulong[] { 1, 2, 10, 1_000_003, 1_000_000_000_000, 999_999_999_999_999_999 })
        {
            var g = DiscreteGaussian.FromVariance(new BigInteger(variance), BigInteger.One);
            var source = new SeededRandomSource(7);
            long[] expected = Vectors.GetProperty($"dgauss_var{variance}_seed7").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(expected, Enumerable.Range(0, 40).Select(_ => g.Sample(source)).ToArray());
        }

        var g25 = DiscreteGaussian.FromVariance(new BigInteger(25), BigInteger.One);
        var s99 = new SeededRandomSource(99);
        long[] xs = Enumerable.Range(0, 2000).Select(_ => g25.Sample(s99)).ToArray();
        Assert.Equal(Vectors.GetProperty("dgauss_var25_seed99_2000_sum").GetInt64(), xs.Sum());
        Assert.Equal(Vectors.GetProperty("dgauss_var25_seed99_2000_sumsq").GetInt64(), xs.Select(x => x * x).Sum());
    }

    [Fact]
    public void Plans_and_their_encodings_match_the_published_values()
    {
        foreach (var (beta, label) in new[] { (Math.Exp(-0.5), "beta_e-half"), (0.0, "beta0") })
        {
            var plan = new DistributedDpPlan(1.0, 1024, 32, 4, Update.Length, 1_000_003, 3, beta);
            Assert.Equal(Vectors.GetProperty($"plan_{label}_l2").GetDouble(), plan.L2Sensitivity);
            Assert.Equal(Vectors.GetProperty($"plan_{label}_l1").GetDouble(), plan.L1Sensitivity);
            Assert.Equal(Vectors.GetProperty($"plan_{label}_headroom").GetInt64(), plan.NoiseHeadroom);
            Assert.Equal(Vectors.GetProperty($"plan_{label}_z").GetDouble(), plan.EffectiveNoiseMultiplier);
            var encoded = plan.Encode((float[])Update.Clone(), new SeededRandomSource(11).Fork(unchecked(NoiseStream + 3UL)));
            Assert.Equal(Strings($"plan_{label}_encode_seed11_round3"), Words(encoded));
        }

        float[] tight = Enumerable.Range(0, 400).Select(i => (float)(((i * 37) % 101) - 50) / 50f * 0.05f).ToArray();
        double norm = Math.Sqrt(tight.Sum(x => (double)x * x));
        Assert.Equal(Vectors.GetProperty("plan_tight_clip").GetDouble(), norm);
        var tightPlan = new DistributedDpPlan(norm, 4, 32, 4, tight.Length, 4, 2, 0.9);
        Assert.Equal(Vectors.GetProperty("plan_tight_l2").GetDouble(), tightPlan.L2Sensitivity);
        Assert.Equal(Strings("plan_tight_encode_seed5_round0"), Words(tightPlan.Encode((float[])tight.Clone(), new SeededRandomSource(5).Fork(NoiseStream))));

        float[] half = Enumerable.Range(0, 400).Select(i => i % 2 == 0 ? 0.125f : -0.125f).ToArray();
        var halfPlan = new DistributedDpPlan(2.5, 4, 32, 4, half.Length, 9, 2, 0.99);
        Assert.Equal(Vectors.GetProperty("plan_half_l2").GetDouble(), halfPlan.L2Sensitivity);
        var published = Vectors.GetProperty("plan_half_encode").EnumerateArray().Select(a => a.EnumerateArray().Select(e => e.GetString()!).ToArray()).ToArray();
        for (int seed = 0; seed < 8; seed++)
        {
            Assert.Equal(published[seed], Words(halfPlan.Encode((float[])half.Clone(), new SeededRandomSource((ulong)seed).Fork(NoiseStream + 2UL))));
        }
    }

    [Fact]
    public void Clipping_matches_to_float_rounding_and_the_refusals_match()
    {
        // The norm sums float32 squares in hardware-dependent blocks, so the clipped values match within 2 ulps.
        float[] x = Enumerable.Range(0, 3000).Select(i => (float)Math.Sin(i * 0.7) * 0.08f).ToArray();
        Assert.Equal(Vectors.GetProperty("clip_norm_before").GetDouble(), L2Clipping.Norm(x), 1e-6);
        L2Clipping.Clip(x, 1.0);
        float[] expected = Vectors.GetProperty("clip_output").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.All(x.Zip(expected), p => Assert.True(Math.Abs(p.First - p.Second) <= Math.Abs(p.Second) * Math.Pow(2, -22), $"{p.First} against {p.Second}"));

        var cases = new Dictionary<string, Func<DistributedDpPlan>>
        {
            ["refuse_wrap"] = () => new DistributedDpPlan(1.0, 1 << 29, 32, 4, 7, 1_000_003, 3, 0.5),
            ["accept_edge"] = () => new DistributedDpPlan(1.0, (1 << 29) - 12001 - 1, 32, 4, 7, 1_000_003, 3, 0.5),
            ["refuse_var0"] = () => new DistributedDpPlan(1.0, 1024, 32, 4, 7, 0, 3, 0.5),
            ["refuse_nmin1"] = () => new DistributedDpPlan(1.0, 1024, 32, 4, 7, 10, 1, 0.5),
            ["refuse_nmin5"] = () => new DistributedDpPlan(1.0, 1024, 32, 4, 7, 10, 5, 0.5),
            ["refuse_beta1"] = () => new DistributedDpPlan(1.0, 1024, 32, 4, 7, 10, 3, 1.0),
            ["refuse_subquantum"] = () => new DistributedDpPlan(1.0, 0.5, 32, 4, 7, 10, 3, 0.5),
            ["refuse_bigsigma"] = () => new DistributedDpPlan(1.0, 1024, 62, 4, 7, 1_000_000_000_000_000_001, 3, 0.5),
        };
        foreach (var (name, make) in cases)
        {
            bool accepted;
            try
            {
                make();
                accepted = true;
            }
            catch (ArgumentException)
            {
                accepted = false;
            }

            Assert.True(accepted == Vectors.GetProperty(name).GetString()!.StartsWith("ok", StringComparison.Ordinal), name);
        }
    }
}
