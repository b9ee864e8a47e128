using Confide.Randomness;
using Confide.Training.Attacks;
using Confide.Training.Data;
using Confide.Training.Internal;
using Confide.Training.Models;

namespace Confide.Training.Tests.Attacks;

public sealed class AttackTests
{
    private static ModelPoisoningContext Context(float[]? own, float[][] benign, int participants = 10, int malicious = 2, ulong seed = 1) =>
        new(own?.Length ?? benign[0].Length, own, benign.Select(b => (ReadOnlyMemory<float>)b).ToList(), participants, malicious, new SeededRandomSource(seed));

    private static float[][] Benign(int count, int length, ulong seed)
    {
        IRandomSource rng = new SeededRandomSource(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() - 0.3)).ToArray()).ToArray();
    }

    [Fact]
    public void LabelFlippingMapsYToKMinusOneMinusYAndKeepsFeatures()
    {
        var data = TestData.Random(50, new ImageShape(1, 1, 3), 10, seed: 1);
        var poisoned = new LabelFlipping().Poison(data, new SeededRandomSource(1));
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal(9 - data.Label(i), poisoned.Label(i));
        }

        Assert.Equal(data.Features.ToArray(), poisoned.Features.ToArray());
    }

    [Fact]
    public void SignFlippingNegatesTheOwnUpdate()
    {
        float[] own = [1, -2, 0.5f];
        Assert.Equal([-1, 2, -0.5f], new SignFlipping().Craft(Context(own, [])));
        Assert.Equal([-3, 6, -1.5f], new SignFlipping(3).Craft(Context(own, [])));
        Assert.Throws<ArgumentException>(() => new SignFlipping().Craft(new ModelPoisoningContext(3, null, [], 10, 1, new SeededRandomSource(1))));
    }

    [Fact]
    public void GaussianNoiseHasTheRequestedMoments()
    {
        const int n = 20_000;
        const double sigma = 2.5;
        var noise = new GaussianNoiseAttack(sigma).Craft(new ModelPoisoningContext(n, null, [], 10, 1, new SeededRandomSource(9)));
        double mean = noise.Average(v => (double)v);
        double sd = Math.Sqrt(noise.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        // Standard errors: σ/√n for the mean, about σ/√(2n) for the standard deviation; allow four of each.
        Assert.InRange(mean, -4 * sigma / Math.Sqrt(n), 4 * sigma / Math.Sqrt(n));
        Assert.InRange(sd, sigma - (4 * sigma / Math.Sqrt(2 * n)), sigma + (4 * sigma / Math.Sqrt(2 * n)));
        var again = new GaussianNoiseAttack(sigma).Craft(new ModelPoisoningContext(n, null, [], 10, 1, new SeededRandomSource(9)));
        Assert.Equal(noise, again);
    }

    [Fact]
    public void ModelReplacementBoostsByTheParticipantCount()
    {
        float[] own = [0.5f, -1];
        Assert.Equal([5f, -10f], new ModelReplacement().Craft(Context(own, [], participants: 10)));
        Assert.Equal([1f, -2f], new ModelReplacement(2).Craft(Context(own, [], participants: 10)));
    }

    [Fact]
    public void AlieZMaxFollowsThePaper()
    {
        // n = 50, f = 12: s = ⌊26⌋ − 12 = 14, z = Φ⁻¹(36/50) = Φ⁻¹(0.72) ≈ 0.5828.
        Assert.Equal(0.582842, ALittleIsEnough.ZMax(50, 12), 4);
        // n = 10, f = 2: s = 4, z = Φ⁻¹(0.6) ≈ 0.2533.
        Assert.Equal(0.253347, ALittleIsEnough.ZMax(10, 2), 4);
        Assert.Equal(1.959964, NormalDistribution.Quantile(0.975), 5);
        Assert.Throws<ArgumentException>(() => ALittleIsEnough.ZMax(10, 6));
    }

    [Fact]
    public void AlieLiesWithinMeanPlusMinusZStdPerCoordinate()
    {
        var benign = Benign(8, 100, seed: 3);
        var malicious = new ALittleIsEnough().Craft(Context(null, benign, participants: 10, malicious: 2));
        double z = ALittleIsEnough.ZMax(10, 2);
        for (int j = 0; j < 100; j++)
        {
            double mean = benign.Average(b => (double)b[j]);
            double std = Math.Sqrt(benign.Average(b => (b[j] - mean) * (b[j] - mean)));
            Assert.InRange(malicious[j], mean - (z * std) - 1e-5, mean + (z * std) + 1e-5);
            Assert.Equal(mean - (z * std), malicious[j], 4);
        }
    }

    [Fact]
    public void IpmIsMinusEpsilonTimesTheBenignMean()
    {
        var benign = Benign(5, 40, seed: 4);
        var malicious = new InnerProductManipulation(0.5).Craft(Context(null, benign));
        for (int j = 0; j < 40; j++)
        {
            Assert.Equal(-0.5 * benign.Average(b => (double)b[j]), malicious[j], 5);
        }

        Assert.Throws<ArgumentException>(() => new InnerProductManipulation().Craft(new ModelPoisoningContext(3, null, [], 10, 1, new SeededRandomSource(1))));
    }

    [Fact]
    public void BackdoorStampsAFractionAndTrainingOnItImplantsTheTrigger()
    {
        var digits = DigitsDataset.Load();
        var split = DatasetSplitter.Split(digits, 0.3, 0, new SeededRandomSource(1));
        var backdoor = new PixelPatternBackdoor(targetLabel: 0, poisonFraction: 0.3);
        var poisoned = backdoor.Poison(split.Clients, new SeededRandomSource(2));
        int changed = Enumerable.Range(0, poisoned.Count).Count(i => !poisoned.Sample(i).SequenceEqual(split.Clients.Sample(i)));
        Assert.InRange(changed, (int)(0.25 * poisoned.Count), (int)Math.Round(0.3 * poisoned.Count));

        var options = new TrainingOptions { Epochs = 15, BatchSize = 32, LearningRate = 0.1, Momentum = 0.9 };
        var model = new MultilayerPerceptron(digits.Shape, [32], 10);
        var clean = new SgdClassifier(model, new SeededRandomSource(3));
        clean.Train(split.Clients, options, new SeededRandomSource(4));
        var attacked = new SgdClassifier(model, new SeededRandomSource(3));
        attacked.Train(poisoned, options, new SeededRandomSource(4));
        double cleanAsr = backdoor.AttackSuccessRate(clean, split.Test);
        double attackedAsr = backdoor.AttackSuccessRate(attacked, split.Test);
        Assert.True(cleanAsr < 0.2, $"clean ASR {cleanAsr}");
        Assert.True(attackedAsr > 0.8, $"backdoored ASR {attackedAsr}");
        Assert.True(attacked.Evaluate(split.Test).Accuracy > 0.85, "the backdoored model still does its main task");
    }

    [Theory]
    [InlineData("label-flip", "label-flip", true)]
    [InlineData("backdoor:3+scaling", "backdoor:3+scaling", true)]
    [InlineData("alie", "alie", false)]
    [InlineData("ipm:2", "ipm:2", false)]
    [InlineData("gaussian:0.5", "gaussian:0.5", false)]
    [InlineData("sign-flip", "sign-flip", true)]
    public void CatalogParsesNamesAndCombinations(string spec, string name, bool trains)
    {
        var behaviour = AttackCatalog.Parse(spec);
        Assert.Equal(name, behaviour.Name);
        Assert.Equal(trains, behaviour.Trains);
    }

    [Theory]
    [InlineData("krum-attack")]
    [InlineData("alie+ipm")]
    [InlineData("label-flip+backdoor")]
    [InlineData("gaussian:-1")]
    [InlineData("ipm:x")]
    public void CatalogRejectsBadSpellings(string spec) => Assert.Throws<ArgumentException>(() => AttackCatalog.Parse(spec));
}
