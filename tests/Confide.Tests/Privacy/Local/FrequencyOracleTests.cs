using Confide.Privacy.Local;
using Confide.Randomness;

namespace Confide.Tests.Privacy.Local;

public sealed class FrequencyOracleTests
{
    // A skewed distribution over d = 8 categories; the counts sum to n.
    private static readonly double[] Frequencies = [0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05, 0.0];

    public static TheoryData<string> Oracles => ["grr", "oue", "sue"];

    private static FrequencyOracle Make(string name, int d, double epsilon) => name switch
    {
        "grr" => new GeneralizedRandomizedResponse(d, epsilon),
        "oue" => new OptimizedUnaryEncoding(d, epsilon),
        "sue" => new SymmetricUnaryEncoding(d, epsilon),
        _ => throw new ArgumentException(name),
    };

    private static long[] Simulate(FrequencyOracle oracle, int[] values, IRandomSource rng)
    {
        if (oracle is GeneralizedRandomizedResponse grr)
        {
            return grr.Aggregate(values.Select(v => grr.Perturb(v, rng)));
        }

        var ue = (UnaryEncoding)oracle;
        var report = new bool[ue.DomainSize];
        var counts = new long[ue.DomainSize];
        foreach (int v in values)
        {
            ue.Perturb(v, rng, report);
            for (int j = 0; j < report.Length; j++)
            {
                counts[j] += report[j] ? 1 : 0;
            }
        }

        return counts;
    }

    private static int[] Population(int n)
    {
        var values = new List<int>(n);
        for (int v = 0; v < Frequencies.Length; v++)
        {
            values.AddRange(Enumerable.Repeat(v, (int)Math.Round(Frequencies[v] * n)));
        }

        return [.. values];
    }

    [Theory]
    // REFERENCES.md (Wang et al. 2017): n·Var at f = 0, ε = 1.
    [InlineData("grr", 10, 3.630249)]
    [InlineData("grr", 2, 0.920674)]
    [InlineData("oue", 10, 3.682694)]
    [InlineData("sue", 10, 3.917698)]
    public void VarianceKnownAnswers(string name, int d, double expected)
    {
        var oracle = Make(name, d, 1.0);
        double nVar = 1000 * oracle.Variance(1000, 0);
        Assert.True(Math.Abs(nVar - expected) / expected < 1e-6, $"{name}: n·Var = {nVar:R}, expected {expected}");
    }

    [Fact]
    public void ParametersFollowThePaper()
    {
        double e = Math.E;
        var grr = new GeneralizedRandomizedResponse(10, 1);
        Assert.Equal(e / (e + 9), grr.P, 15);
        Assert.Equal((1 - grr.P) / 9, grr.Q, 15);
        var oue = new OptimizedUnaryEncoding(10, 1);
        Assert.Equal(0.5, oue.P);
        Assert.Equal(1 / (e + 1), oue.Q, 15);
        var sue = new SymmetricUnaryEncoding(10, 1);
        Assert.Equal(Math.Sqrt(e) / (Math.Sqrt(e) + 1), sue.P, 15);
        Assert.Equal(1 - sue.P, sue.Q, 15);
        // ε-LDP: the likelihood ratio of any report is at most e^ε (p(1−q)/(q(1−p)) for UE, p/q for GRR).
        Assert.Equal(e, grr.P / grr.Q, 12);
        Assert.Equal(e, oue.P * (1 - oue.Q) / (oue.Q * (1 - oue.P)), 12);
        Assert.Equal(e, sue.P * (1 - sue.Q) / (sue.Q * (1 - sue.P)), 12);
    }

    [Theory]
    [MemberData(nameof(Oracles))]
    public void EstimatesAreUnbiasedWithinTheVarianceFormula(string name)
    {
        const int n = 20_000;
        var oracle = Make(name, 8, 1.5);
        var values = Population(n);
        var f = oracle.EstimateFrequencies(Simulate(oracle, values, new SeededRandomSource(31)), values.Length);
        for (int v = 0; v < 8; v++)
        {
            double sd = Math.Sqrt(oracle.Variance(values.Length, Frequencies[v]));
            Assert.True(Math.Abs(f[v] - Frequencies[v]) < 5 * sd, $"{name} value {v}: f̂ = {f[v]:F4}, f = {Frequencies[v]}, sd = {sd:F4}");
        }
    }

    [Theory]
    [MemberData(nameof(Oracles))]
    public void EmpiricalVarianceMatchesTheFormula(string name)
    {
        // R independent runs of n users; the sample variance over runs has relative sd ≈ √(2/(R − 1)).
        const int n = 400, runs = 600;
        var oracle = Make(name, 8, 1.0);
        var values = Population(n);
        var rng = new SeededRandomSource(77);
        var estimates = new double[runs][];
        for (int r = 0; r < runs; r++)
        {
            estimates[r] = oracle.EstimateFrequencies(Simulate(oracle, values, rng), values.Length);
        }

        double tol = 5 * Math.Sqrt(2.0 / (runs - 1));
        foreach (int v in new[] { 0, 3, 7 })
        {
            double mean = estimates.Average(e => e[v]);
            double variance = estimates.Sum(e => (e[v] - mean) * (e[v] - mean)) / (runs - 1);
            double expected = oracle.Variance(values.Length, Frequencies[v]);
            Assert.True(Math.Abs((variance / expected) - 1) < tol, $"{name} value {v}: empirical {variance:E3}, formula {expected:E3}");
            Assert.True(Math.Abs(mean - Frequencies[v]) < 5 * Math.Sqrt(expected / runs), $"{name} value {v}: mean {mean:F4}");
        }
    }

    [Fact]
    public void RandomizedResponseIsUnbiasedWithTheStatedVariance()
    {
        const int n = 2000, runs = 500;
        var rr = new RandomizedResponse(0.8);
        var rng = new SeededRandomSource(3);
        int trueOnes = 600;
        var estimates = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            long ones = 0;
            for (int i = 0; i < n; i++)
            {
                ones += rr.Perturb(i < trueOnes, rng) ? 1 : 0;
            }

            estimates[r] = rr.EstimateFraction(ones, n);
        }

        double mean = estimates.Average();
        double variance = estimates.Sum(e => (e - mean) * (e - mean)) / (runs - 1);
        Assert.True(Math.Abs(mean - 0.3) < 5 * Math.Sqrt(rr.Variance(n) / runs), $"mean {mean}");
        Assert.True(Math.Abs((variance / rr.Variance(n)) - 1) < 5 * Math.Sqrt(2.0 / (runs - 1)), $"variance {variance} vs {rr.Variance(n)}");
        // GRR with d = 2 is the same mechanism.
        Assert.Equal(new GeneralizedRandomizedResponse(2, 0.8).Variance(n, 0.3), rr.Variance(n), 15);
    }

    [Fact]
    public void BadInputsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GeneralizedRandomizedResponse(1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizedUnaryEncoding(8, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SymmetricUnaryEncoding(8, double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomizedResponse(-1));
        var grr = new GeneralizedRandomizedResponse(4, 1);
        var rng = new SeededRandomSource(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => grr.Perturb(4, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => grr.Aggregate([0, 5]));
        Assert.Throws<ArgumentException>(() => grr.EstimateCounts([1, 2, 3], 10));
        Assert.Throws<ArgumentException>(() => grr.EstimateCounts([1, 2, 3, 11], 10));
        var oue = new OptimizedUnaryEncoding(4, 1);
        Assert.Throws<ArgumentException>(() => oue.Perturb(0, rng, new bool[3]));
        Assert.Throws<ArgumentException>(() => oue.Aggregate([new bool[5]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => oue.Variance(10, 1.5));
    }
}
