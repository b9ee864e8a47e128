using Confide.Randomness;
using Confide.Training.Simulation;

namespace Confide.Training.Tests.Simulation;

public sealed class ExtensionTests
{
    private sealed class ZeroingExtension : ISimulationExtension
    {
        public int ClientCalls { get; private set; }

        public string Name => "zero";

        public void OnClientUpdate(int round, int client, Span<float> update, IRandomSource random)
        {
            ClientCalls++;
            update.Clear();
        }

        public IReadOnlyDictionary<string, double> OnAggregate(int round, int participants, Span<float> aggregate, IRandomSource random) =>
            new Dictionary<string, double> { ["participants_seen"] = participants };
    }

    [Fact]
    public void ExtensionsSeeEveryUpdateAndReportMetrics()
    {
        var extension = new ZeroingExtension();
        var result = new FederatedSimulation(new SimulationOptions { Rounds = 2, Clients = 4 }, [extension]).Run();
        Assert.Equal(8, extension.ClientCalls);
        Assert.All(result.Rounds, r => Assert.Equal(4, r.Extra["participants_seen"]));
        // Every update was zeroed, so the global model never moved from its initial weights.
        Assert.Equal(result.Rounds[0].Loss, result.Rounds[1].Loss);
    }
}
