using Confide.Randomness;
using Confide.Training.Data;
using Confide.Training.Models;

namespace Confide.Training.Tests.Models;

/// <summary>
/// Hand-derived gradients against central finite differences. The models compute in float; the loss is summed in double.
/// With h = 1e-3 the rounding error of a difference quotient is about 1e-4 and the truncation error O(h²), so a
/// correct gradient agrees within 2e-3 + 2 % while a wrong one (a missing term, a transposed index) is off by far more.
/// ReLU and max-pool kinks can make a rare coordinate disagree; at most 1 % of coordinates may, and none by a lot.
/// </summary>
public sealed class GradientCheckTests
{
    public static TheoryData<string> ModelNames => new() { "softmax", "mlp", "mlp-deep", "cnn-padded", "cnn-valid", "cnn-2channel" };

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void GradientMatchesFiniteDifferences(string name)
    {
        IModel model = name switch
        {
            "softmax" => new SoftmaxRegression(new ImageShape(1, 1, 7), 4),
            "mlp" => new MultilayerPerceptron(new ImageShape(1, 1, 6), [5], 3),
            "mlp-deep" => new MultilayerPerceptron(new ImageShape(1, 1, 6), [7, 4], 3),
            "cnn-padded" => new ConvNet(new ConvNetOptions(new ImageShape(1, 8, 8), 3, conv1Channels: 2, conv2Channels: 3, kernelSize: 3, padding: 1, hidden: [5])),
            "cnn-valid" => new ConvNet(new ConvNetOptions(new ImageShape(1, 12, 12), 3, conv1Channels: 2, conv2Channels: 3, kernelSize: 3, padding: 0, hidden: [4])),
            "cnn-2channel" => new ConvNet(new ConvNetOptions(new ImageShape(2, 6, 6), 3, conv1Channels: 3, conv2Channels: 2, kernelSize: 3, padding: 1, hidden: [4, 3])),
            _ => throw new ArgumentException(name),
        };

        const int batch = 3;
        var data = TestData.Random(batch, model.InputShape, model.ClassCount, seed: 11);
        var parameters = new float[model.Layout.TotalLength];
        model.Initialize(parameters, new SeededRandomSource(5));
        var workspace = model.CreateWorkspace(batch);
        var gradient = new float[parameters.Length];
        double loss = workspace.LossAndGradient(parameters, data.Features, data.Labels, 1f / batch, gradient);
        Assert.True(double.IsFinite(loss) && loss > 0);

        const float h = 1e-3f;
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < parameters.Length; i++)
        {
            float saved = parameters[i];
            parameters[i] = saved + h;
            double plus = workspace.Evaluate(parameters, data.Features, data.Labels, default) / batch;
            parameters[i] = saved - h;
            double minus = workspace.Evaluate(parameters, data.Features, data.Labels, default) / batch;
            parameters[i] = saved;
            double numeric = (plus - minus) / (2.0 * ((double)(saved + h) - saved));
            double error = Math.Abs(numeric - gradient[i]);
            if (error > 2e-3 + (0.02 * Math.Abs(numeric)))
            {
                bad++;
                worst = Math.Max(worst, error);
            }
        }

        Assert.True(bad <= parameters.Length / 100, $"{bad} of {parameters.Length} coordinates disagree (worst error {worst:g3}).");
        Assert.True(worst < 0.05, $"worst disagreement {worst:g3}");
    }

    [Fact]
    public void ScaleMultipliesTheGradientAndNotTheLoss()
    {
        var model = new MultilayerPerceptron(new ImageShape(1, 1, 5), [4], 3);
        var data = TestData.Random(4, model.InputShape, 3, seed: 2);
        var p = new float[model.Layout.TotalLength];
        model.Initialize(p, new SeededRandomSource(1));
        var ws = model.CreateWorkspace(4);
        var g1 = new float[p.Length];
        var g2 = new float[p.Length];
        double l1 = ws.LossAndGradient(p, data.Features, data.Labels, 1f, g1);
        double l2 = ws.LossAndGradient(p, data.Features, data.Labels, 0.25f, g2);
        Assert.Equal(l1, l2, 12);
        for (int i = 0; i < p.Length; i++)
        {
            Assert.Equal(g1[i] * 0.25f, g2[i], 1e-6f);
        }
    }

    [Fact]
    public void WorkspaceRejectsMismatchedInputs()
    {
        var model = new SoftmaxRegression(new ImageShape(1, 1, 4), 3);
        var ws = model.CreateWorkspace(2);
        var p = new float[model.Layout.TotalLength];
        var g = new float[p.Length];
        Assert.Throws<ArgumentException>(() => ws.LossAndGradient(p, new float[7], new int[2], 1, g));
        Assert.Throws<ArgumentException>(() => ws.LossAndGradient(p, new float[12], new int[3], 1, g));
        Assert.Throws<ArgumentException>(() => ws.LossAndGradient(new float[3], new float[8], new int[2], 1, g));
    }

    [Fact]
    public void ConvNetRejectsInputsTooSmallForItsKernels()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ConvNetOptions(new ImageShape(1, 8, 8), 10));
        Assert.Contains("padding", ex.Message, StringComparison.Ordinal);
        Assert.Equal(64, ConvNetOptions.ForSmallImages(new ImageShape(1, 8, 8), 10).FlatSize);
        Assert.Equal(256, ConvNetOptions.NiidBench(new ImageShape(1, 28, 28), 10).FlatSize);
    }

    [Fact]
    public void NiidBenchCnnHasPyTorchSizes()
    {
        var net = new ConvNet(ConvNetOptions.NiidBench(new ImageShape(1, 28, 28), 10));
        Assert.Equal([6, 5, 5, 1], net.Layout["conv1.weight"].ShapeArray());
        Assert.Equal([16, 5, 5, 6], net.Layout["conv2.weight"].ShapeArray());
        Assert.Equal([120, 256], net.Layout["fc1.weight"].ShapeArray());
        Assert.Equal([84, 120], net.Layout["fc2.weight"].ShapeArray());
        Assert.Equal([10, 84], net.Layout["fc3.weight"].ShapeArray());
        // 156 + 2416 + 30840 + 10164 + 850 weights, as PyTorch counts them for this network.
        Assert.Equal(44426, net.Layout.TotalLength);
    }
}
