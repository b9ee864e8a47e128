using Confide.Parameters;
using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Models;

namespace Confide.Training.Tests;

public sealed class SgdClassifierTests
{
    private static readonly ImageShape Flat12 = new(1, 1, 12);

    [Fact]
    public void OneFullBatchStepFollowsTheSgdFormula()
    {
        // With B = n and one epoch there is exactly one step: θ₁ = θ₀ − η(∇L(θ₀) + λθ₀), whatever the shuffle.
        var model = new MultilayerPerceptron(Flat12, [6], 3);
        var data = TestData.Random(10, Flat12, 3, seed: 4);
        var classifier = new SgdClassifier(model, new SeededRandomSource(1));
        var before = classifier.GetParameters();
        var gradient = new float[before.Length];
        model.CreateWorkspace(10).LossAndGradient(before.AsSpan(), data.Features, data.Labels, 0.1f, gradient);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 10, LearningRate = 0.5, Momentum = 0.9, WeightDecay = 0.01 };
        var report = classifier.Train(data, options, new SeededRandomSource(2));
        Assert.Equal(1, report.Steps);
        var after = classifier.GetParameters().AsSpan();
        for (int i = 0; i < gradient.Length; i++)
        {
            float expected = before.AsSpan()[i] - (0.5f * (gradient[i] + (0.01f * before.AsSpan()[i])));
            Assert.Equal(expected, after[i], 1e-5f);
        }
    }

    [Fact]
    public void TrainingIsDeterministicForASeedAndDiffersAcrossSeeds()
    {
        var data = TestData.Separable(200, 12, 3, seed: 9);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 0.1, Momentum = 0.9 };
        float[] Run(ulong seed)
        {
            var c = new SgdClassifier(new MultilayerPerceptron(Flat12, [8], 3), new SeededRandomSource(1));
            c.Train(data, options, new SeededRandomSource(seed));
            return c.GetParameters().AsSpan().ToArray();
        }

        Assert.Equal(Run(5), Run(5));
        Assert.NotEqual(Run(5), Run(6));
    }

    [Fact]
    public void MaxStepsStopsPartWayThroughAnEpoch()
    {
        // 100 samples in batches of 16 are 7 steps an epoch; 3 epochs capped at 10 steps run one epoch and 3 steps of the next.
        var data = TestData.Separable(100, 12, 3, seed: 9);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.1, Momentum = 0.9 };
        (TrainingReport Report, float[] Weights) Run(TrainingOptions o)
        {
            var c = new SgdClassifier(new MultilayerPerceptron(Flat12, [8], 3), new SeededRandomSource(1));
            var report = c.Train(data, o, new SeededRandomSource(5));
            return (report, c.GetParameters().AsSpan().ToArray());
        }

        var capped = Run(options with { MaxSteps = 10 });
        Assert.Equal(10, capped.Report.Steps);
        Assert.Equal(21, Run(options).Report.Steps);
        // A cap at a whole epoch's steps gives exactly the one-epoch run, and a cap above the total changes nothing.
        Assert.Equal(Run(options with { Epochs = 1 }).Weights, Run(options with { MaxSteps = 7 }).Weights);
        Assert.Equal(Run(options).Weights, Run(options with { MaxSteps = 1000 }).Weights);
        Assert.NotEqual(Run(options with { MaxSteps = 7 }).Weights, capped.Weights);
        Assert.True(double.IsFinite(capped.Report.MeanLoss));
        Assert.Throws<ArgumentOutOfRangeException>(() => options with { MaxSteps = 0 });
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("mlp")]
    public void LearnsASeparableProblem(string kind)
    {
        var train = TestData.Separable(600, 12, 3, seed: 1);
        var test = TestData.Separable(300, 12, 3, seed: 2);
        IModel model = kind == "softmax" ? new SoftmaxRegression(Flat12, 3) : new MultilayerPerceptron(Flat12, [16], 3);
        var classifier = new SgdClassifier(model, new SeededRandomSource(3));
        double before = classifier.Evaluate(test).Loss;
        var report = classifier.Train(train, new TrainingOptions { Epochs = 5, BatchSize = 20, LearningRate = 0.1, Momentum = 0.9 }, new SeededRandomSource(4));
        var after = classifier.Evaluate(test);
        Assert.False(report.Diverged);
        Assert.Equal(150, report.Steps);
        Assert.True(after.Loss < before / 2, $"loss {before} → {after.Loss}");
        Assert.True(after.Accuracy > 0.95, $"accuracy {after.Accuracy}");
    }

    [Fact]
    public void ParallelBatchSplitMatchesSerialUpToRounding()
    {
        var data = TestData.Separable(256, 12, 3, seed: 5);
        float[] Run(int threads)
        {
            var c = new SgdClassifier(new MultilayerPerceptron(Flat12, [8], 3), new SeededRandomSource(1));
            c.Train(data, new TrainingOptions { Epochs = 1, BatchSize = 64, LearningRate = 0.1, Parallelism = threads }, new SeededRandomSource(2));
            return c.GetParameters().AsSpan().ToArray();
        }

        var serial = Run(1);
        var parallel = Run(2);
        Assert.Equal(Run(2), parallel);
        for (int i = 0; i < serial.Length; i++)
        {
            Assert.Equal(serial[i], parallel[i], 1e-4f);
        }
    }

    [Fact]
    public void ProximalTermKeepsWeightsCloserToTheStart()
    {
        var data = TestData.Separable(200, 12, 3, seed: 6);
        double Drift(double mu)
        {
            var c = new SgdClassifier(new MultilayerPerceptron(Flat12, [8], 3), new SeededRandomSource(1));
            var start = c.GetParameters();
            c.Train(data, new TrainingOptions { Epochs = 3, BatchSize = 10, LearningRate = 0.1, ProximalMu = mu }, new SeededRandomSource(2));
            var end = c.GetParameters();
            double sum = 0;
            for (int i = 0; i < start.Length; i++)
            {
                double d = end.AsSpan()[i] - start.AsSpan()[i];
                sum += d * d;
            }

            return Math.Sqrt(sum);
        }

        Assert.True(Drift(1.0) < 0.8 * Drift(0), $"{Drift(1.0)} vs {Drift(0)}");
    }

    [Fact]
    public void SetParametersRejectsAnotherLayoutAndDataOfAnotherShape()
    {
        var c = new SgdClassifier(new SoftmaxRegression(Flat12, 3), new SeededRandomSource(1));
        var other = ModelParameters.Zeros(new SoftmaxRegression(new ImageShape(1, 1, 5), 3).Layout);
        Assert.Throws<ArgumentException>(() => c.SetParameters(other));
        var wrong = TestData.Random(5, new ImageShape(1, 1, 5), 3, seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => c.Evaluate(wrong));
        Assert.Contains("expects", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionsRejectBadValues()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { Epochs = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { BatchSize = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { LearningRate = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { LearningRate = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { Momentum = 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { WeightDecay = -0.1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { ProximalMu = double.PositiveInfinity });
    }

    [Fact]
    public void DivergenceIsReportedNotHidden()
    {
        var data = TestData.Separable(100, 12, 3, seed: 7);
        var c = new SgdClassifier(new MultilayerPerceptron(Flat12, [8], 3), new SeededRandomSource(1));
        var p = c.GetParameters();
        p.AsSpan().Fill(3e38f);
        c.SetParameters(p);
        var report = c.Train(data, new TrainingOptions { LearningRate = 10 }, new SeededRandomSource(1));
        Assert.True(report.Diverged);
    }
}
