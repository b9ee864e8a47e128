using Confide.Parameters;
using Confide.Privacy;

namespace Confide.Server.Tests;

public sealed class StateStoreTests
{
    [Fact]
    public async Task A_state_folder_refuses_a_model_with_another_layout()
    {
        await using var federation = new TestFederation();
        await federation.StartAsync(TestFederation.Rounds(1, 1));
        await federation.StopAsync();
        var other = ModelParameters.Zeros(ParameterLayout.Create(("other", [7])));
        var options = new ServerOptions(federation.StateDirectory, TestFederation.Rounds(1, 1), other) { Port = 0 };
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => ConfideServer.StartAsync(options));
        Assert.Contains("use a fresh state folder", ex.Message);

        // The refusal left the folder usable with the right model.
        await using var again = await ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, TestFederation.Rounds(1, 1)));
        Assert.Equal(TestFederation.InitialModel().AsSpan().ToArray(), again.GlobalModel.AsSpan().ToArray());
    }

    [Fact]
    public async Task Dp_without_a_budget_is_refused_before_anything_starts()
    {
        await using var federation = new TestFederation();
        var dp = DpFedAvgOptions.Fixed(1.0, 1.0, 2, 10, ClippingPlacement.Server);
        var rounds = new Protocol.Rounds.RoundOptions(1, Protocol.Rounds.ClientSampling.OfCount(2), TimeSpan.FromSeconds(5), 2, new Aggregation.AggregatorSettings("fedavg"), privacy: dp);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ConfideServer.StartAsync(TestFederation.Options(federation.StateDirectory, rounds)));
        Assert.Contains("privacy budget", ex.Message);
        Assert.False(Directory.Exists(federation.StateDirectory));
    }
}
