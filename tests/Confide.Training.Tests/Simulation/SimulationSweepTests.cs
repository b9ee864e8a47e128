using Confide.Training.Simulation;

namespace Confide.Training.Tests.Simulation;

public sealed class SimulationSweepTests
{
    [Fact]
    public void SweepFillsTheGridAndMarksImpossibleCombinations()
    {
        var options = new SimulationOptions { Rounds = 2, Clients = 6, Malicious = 1, Seed = 3 };
        var cells = SimulationSweep.Run(options, ["none", "sign-flip:4"], ["fedavg", "median", "bulyan"]);
        Assert.Equal(6, cells.Count);
        // Bulyan needs n ≥ 4f + 3 = 7 inputs; with 6 clients it cannot run, and says why.
        Assert.All(cells.Where(c => c.Aggregator == "bulyan"), c => Assert.Contains("4f + 3", c.Error, StringComparison.Ordinal));
        Assert.All(cells.Where(c => c.Aggregator != "bulyan"), c => Assert.NotNull(c.FinalAccuracy));
        // The clean row matches a plain run with the same seed.
        var plain = new FederatedSimulation(options with { Malicious = 0, Byzantine = 1 }).Run();
        Assert.Equal(plain.FinalAccuracy, cells.Single(c => c.Attack == "none" && c.Aggregator == "fedavg").FinalAccuracy);
        string markdown = SimulationSweep.Markdown(cells);
        Assert.Contains("| attack | fedavg | median | bulyan |", markdown, StringComparison.Ordinal);
        Assert.Contains("| sign-flip:4 |", markdown, StringComparison.Ordinal);
        Assert.Equal(7, SimulationSweep.Csv(cells).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void AttackSweepNeedsMaliciousClients() =>
        Assert.Throws<ArgumentException>(() => SimulationSweep.Run(new SimulationOptions { Rounds = 1 }, ["alie"], ["fedavg"]));
}
