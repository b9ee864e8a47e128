using Confide.Aggregation.Optimizers;

namespace Confide.Tests.Aggregation.Optimizers;

public sealed class ServerOptimizerTests
{
    public static TheoryData<string> Names => new(Factories.Keys);

    private static readonly Dictionary<string, Func<IServerOptimizer>> Factories = new()
    {
        ["server-sgd"] = () => new ServerSgd(0.5),
        ["fedavgm"] = () => new FedAvgM(1.0, 0.9),
        ["fedadam"] = () => new FedAdam(),
        ["fedyogi"] = () => new FedYogi(),
        ["fedadagrad"] = () => new FedAdagrad(),
    };

    [Fact]
    public void ServerSgdWithRateOneIsPlainFedAvg()
    {
        float[] model = [1, 2, 3];
        new ServerSgd().Step(model, [0.5f, -2, 0]);
        Assert.Equal([1.5f, 0f, 3f], model);
    }

    [Fact]
    public void FedAvgMAccumulatesVelocity()
    {
        // v₁ = Δ₁ = 1, x = 0 + 0.5·1 = 0.5; v₂ = 0.9·1 + 2 = 2.9, x = 0.5 + 0.5·2.9 = 1.95.
        var optimizer = new FedAvgM(0.5, 0.9);
        float[] model = [0];
        optimizer.Step(model, [1]);
        Assert.Equal(0.5f, model[0], 1e-6f);
        optimizer.Step(model, [2]);
        Assert.Equal(1.95f, model[0], 1e-6f);
    }

    [Fact]
    public void FedAdamTwoSteps()
    {
        // Defaults η = 0.1, β₁ = 0.9, β₂ = 0.99, τ = 1e-9; v starts at τ² (negligible here).
        // Step 1, Δ = 1: m = 0.1, v = 0.01, x = 0.1·0.1/(0.1 + 1e-9) ≈ 0.1.
        // Step 2, Δ = −1: m = 0.09 − 0.1 = −0.01, v = 0.0099 + 0.01 = 0.0199, x = 0.1 − 0.1·0.01/√0.0199 ≈ 0.0929112.
        var optimizer = new FedAdam();
        float[] model = [0];
        optimizer.Step(model, [1]);
        Assert.Equal(0.1, model[0], 1e-6);
        optimizer.Step(model, [-1]);
        Assert.Equal(0.1 - (0.1 * 0.01 / Math.Sqrt(0.0199)), model[0], 1e-6);
    }

    [Fact]
    public void FedYogiTwoSteps()
    {
        // η = 1, β₁ = 0.5, β₂ = 0.75, τ = 0.5: v starts at τ² = 0.25.
        // Step 1, Δ = 2: m = 1; v = 0.25 − 0.25·4·sign(0.25 − 4) = 1.25; x = 1/(√1.25 + 0.5).
        // Step 2, Δ = 0.5: m = 0.75; v = 1.25 − 0.25·0.25·sign(1.25 − 0.25) = 1.1875; x += 0.75/(√1.1875 + 0.5).
        var optimizer = new FedYogi(1, 0.5, 0.75, 0.5);
        float[] model = [0];
        optimizer.Step(model, [2]);
        double x1 = 1 / (Math.Sqrt(1.25) + 0.5);
        Assert.Equal(x1, model[0], 1e-6);
        optimizer.Step(model, [0.5f]);
        Assert.Equal(x1 + (0.75 / (Math.Sqrt(1.1875) + 0.5)), model[0], 1e-6);
    }

    [Fact]
    public void FedAdagradTwoSteps()
    {
        // η = 1, τ = 0.5: v₀ = 0.25. Step 1, Δ = 1: v = 1.25, x = 1/(√1.25 + 0.5).
        // Step 2, Δ = 2: v = 5.25, x += 2/(√5.25 + 0.5).
        var optimizer = new FedAdagrad(1, 0.5);
        float[] model = [0];
        optimizer.Step(model, [1]);
        double x1 = 1 / (Math.Sqrt(1.25) + 0.5);
        Assert.Equal(x1, model[0], 1e-6);
        optimizer.Step(model, [2]);
        Assert.Equal(x1 + (2 / (Math.Sqrt(5.25) + 0.5)), model[0], 1e-6);
    }

    [Fact]
    public void DefaultsAreDocumentedFlowerValues()
    {
        var adam = new FedAdam();
        Assert.Equal((0.1, 0.9, 0.99, 1e-9), (adam.ServerLearningRate, adam.Beta1, adam.Beta2, adam.Tau));
        var yogi = new FedYogi();
        Assert.Equal((0.01, 0.9, 0.99, 1e-3), (yogi.ServerLearningRate, yogi.Beta1, yogi.Beta2, yogi.Tau));
        var adagrad = new FedAdagrad();
        Assert.Equal((0.1, 1e-9), (adagrad.ServerLearningRate, adagrad.Tau));
        Assert.Equal(1.0, new ServerSgd().ServerLearningRate);
    }

    [Fact]
    public void StateIsPerInstance()
    {
        var a = new FedAvgM(1, 0.5);
        var b = new FedAvgM(1, 0.5);
        float[] ma = [0], mb = [0];
        a.Step(ma, [1]);
        a.Step(ma, [1]); // v = 1.5, x = 2.5
        b.Step(mb, [1]); // v = 1, x = 1
        Assert.Equal(2.5f, ma[0]);
        Assert.Equal(1f, mb[0]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LengthsMustMatch(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => Factories[name]().Step(new float[3], new float[2]));
        Assert.Contains("the model has 3 values and the delta 2", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LengthIsFixedByTheFirstStepForStatefulOptimisers(string name)
    {
        var optimizer = Factories[name]();
        optimizer.Step(new float[3], [1, 1, 1]);
        if (name == "server-sgd")
        {
            optimizer.Step(new float[2], [1, 1]); // stateless: any length
            return;
        }

        var ex = Assert.Throws<ArgumentException>(() => optimizer.Step(new float[2], [1, 1]));
        Assert.Contains("state was built for 3 parameters, got 2", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void NonFiniteDeltaIsRejectedBeforeAnythingChanges(string name)
    {
        var optimizer = Factories[name]();
        float[] model = [1, 2];
        var ex = Assert.Throws<ArgumentException>(() => optimizer.Step(model, [0.5f, float.NaN]));
        Assert.Contains("non-finite value NaN at index 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal([1f, 2f], model);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ZeroDeltaLeavesTheModelAtRestAndADeltaMovesItThatWay(string name)
    {
        var optimizer = Factories[name]();
        float[] model = [1, -1];
        optimizer.Step(model, [0, 0]);
        Assert.Equal([1f, -1f], model);
        optimizer.Step(model, [0.3f, -0.3f]);
        Assert.True(model[0] > 1 && model[1] < -1, $"{name} moved the model against the delta: [{model[0]}, {model[1]}]");
    }

    [Fact]
    public void ParametersAreChecked()
    {
        Assert.Contains("learning rate η = 0", Assert.Throws<ArgumentOutOfRangeException>(() => new ServerSgd(0)).Message, StringComparison.Ordinal);
        Assert.Contains("momentum = 1", Assert.Throws<ArgumentOutOfRangeException>(() => new FedAvgM(1, 1)).Message, StringComparison.Ordinal);
        Assert.Contains("beta1 = -0.1", Assert.Throws<ArgumentOutOfRangeException>(() => new FedAdam(beta1: -0.1)).Message, StringComparison.Ordinal);
        Assert.Contains("beta2 = NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new FedYogi(beta2: double.NaN)).Message, StringComparison.Ordinal);
        Assert.Contains("adaptivity τ = 0", Assert.Throws<ArgumentOutOfRangeException>(() => new FedAdagrad(tau: 0)).Message, StringComparison.Ordinal);
        Assert.Contains("learning rate η = Infinity", Assert.Throws<ArgumentOutOfRangeException>(() => new FedAdam(double.PositiveInfinity)).Message, StringComparison.Ordinal);
    }
}
