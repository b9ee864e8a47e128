using Confide.Aggregation.Optimizers;
using Confide.Randomness;

namespace Confide.Tests.Aggregation.Optimizers;

/// <summary>Export and import of server optimiser state: a restored optimiser continues bit for bit.</summary>
public sealed class ServerOptimizerStateTests
{
    public static TheoryData<string> Methods => new(ServerOptimizerSettings.Methods);

    private static ServerOptimizerSettings Settings(string method) =>
        new(method, 0.1, Momentum: method == "fedavgm" ? 0.9 : null);

    private static float[] Delta(IRandomSource random, int n)
    {
        var d = new float[n];
        for (int i = 0; i < n; i++)
        {
            d[i] = (float)(random.NextDouble() - 0.5);
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void A_restored_optimizer_continues_exactly_like_the_original(string method)
    {
        const int n = 37;
        var random = new SeededRandomSource(11);
        var deltas = Enumerable.Range(0, 6).Select(_ => Delta(random, n)).ToArray();
        var original = Settings(method).Create();
        var model = Enumerable.Range(0, n).Select(i => 0.01f * i).ToArray();
        for (int r = 0; r < 3; r++)
        {
            original.Step(model, deltas[r]);
        }

        var saved = original.ExportState();
        Assert.Equal(original.Name, saved.Optimizer);
        var restored = Settings(method).Create();
        restored.ImportState(saved);
        var fresh = Settings(method).Create();

        var a = (float[])model.Clone();
        var b = (float[])model.Clone();
        var c = (float[])model.Clone();
        for (int r = 3; r < 6; r++)
        {
            original.Step(a, deltas[r]);
            restored.Step(b, deltas[r]);
            fresh.Step(c, deltas[r]);
        }

        Assert.Equal(a, b);
        if (method != "sgd")
        {
            // The state matters: an optimiser that lost it ends elsewhere.
            Assert.NotEqual(a, c);
        }

        // Export copies: stepping after export does not change the snapshot.
        Assert.All(saved.Vectors.Values, v => Assert.Equal(n, v.Length));
        Assert.Equal(saved.Vectors.Keys, restored.ExportState().Vectors.Keys);
    }

    [Fact]
    public void The_state_of_another_optimizer_or_with_missing_vectors_is_refused()
    {
        var adam = new FedAdam();
        float[] model = [1, 2];
        adam.Step(model, [0.1f, 0.2f]);
        var ex = Assert.Throws<ArgumentException>(() => new FedYogi().ImportState(adam.ExportState()));
        Assert.Contains("saved by optimiser 'fedadam', not 'fedyogi'", ex.Message);
        var partial = new ServerOptimizerState("fedadam", new Dictionary<string, float[]> { ["m"] = [0, 0] });
        Assert.Contains("expected [m, v]", Assert.Throws<ArgumentException>(() => new FedAdam().ImportState(partial)).Message);
        Assert.Throws<ArgumentException>(() => new ServerSgd().ImportState(ServerOptimizerState.Empty("fedavgm")));

        // A restored state fixes the model length like a first step does.
        var restored = new FedAdam();
        restored.ImportState(adam.ExportState());
        Assert.Throws<ArgumentException>(() => restored.Step(new float[3], new float[3]));
    }

    [Fact]
    public void A_state_with_unequal_lengths_or_non_finite_values_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new ServerOptimizerState("fedadam", new Dictionary<string, float[]> { ["m"] = [0], ["v"] = [0, 1] }));
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => new ServerOptimizerState("fedadagrad", new Dictionary<string, float[]> { ["v"] = [float.NaN] })).Message);
        Assert.Equal(0, ServerOptimizerState.Empty("fedadam").Length);
    }

    [Fact]
    public void Settings_build_each_method_and_refuse_bad_combinations()
    {
        Assert.Equal(["server-sgd", "fedavgm", "fedadam", "fedyogi", "fedadagrad"], ServerOptimizerSettings.Methods.Select(m => Settings(m).Create().Name));
        Assert.Contains("needs a momentum", Assert.Throws<ArgumentException>(() => new ServerOptimizerSettings("fedavgm", 1).Create()).Message);
        Assert.Contains("takes no momentum", Assert.Throws<ArgumentException>(() => new ServerOptimizerSettings("fedadam", 1, Momentum: 0.9).Create()).Message);
        Assert.Contains("takes no tau", Assert.Throws<ArgumentException>(() => new ServerOptimizerSettings("sgd", 1, Tau: 1e-3).Create()).Message);
        Assert.Contains("Unknown server optimiser", Assert.Throws<ArgumentException>(() => new ServerOptimizerSettings("adamw", 1).Create()).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServerOptimizerSettings("fedadam", -1).Create());
        var yogi = (FedYogi)new ServerOptimizerSettings("fedyogi", 0.01, Beta1: 0.8, Tau: 1e-2).Create();
        Assert.Equal((0.8, 0.99, 1e-2), (yogi.Beta1, yogi.Beta2, yogi.Tau));
    }
}
