using Confide.Training.Simulation;

namespace Confide.Cli;

/// <summary>PNG plots of a simulation (ScottPlot): test accuracy against round and, under DP, ε against round.</summary>
internal static class SimulationPlots
{
    /// <summary>Writes <c>accuracy.png</c> (and <c>epsilon.png</c> when ε was recorded) into <paramref name="directory"/>; returns the paths.</summary>
    public static IReadOnlyList<string> Write(SimulationResult result, string directory)
    {
        var paths = new List<string>();
        double[] rounds = result.Rounds.Select(r => (double)r.Round).ToArray();

        var accuracy = new ScottPlot.Plot();
        var line = accuracy.Add.Scatter(rounds, result.Rounds.Select(r => r.Accuracy).ToArray());
        line.LegendText = "test accuracy";
        if (result.Rounds.All(r => r.BackdoorSuccessRate is not null))
        {
            var asr = accuracy.Add.Scatter(rounds, result.Rounds.Select(r => r.BackdoorSuccessRate!.Value).ToArray());
            asr.LegendText = "backdoor success rate";
            accuracy.ShowLegend();
        }

        accuracy.Title($"{result.ModelName}, {result.AggregatorName}" + (result.AttackName is null ? "" : $", {result.AttackName}"));
        accuracy.XLabel("round");
        accuracy.YLabel("accuracy");
        accuracy.Axes.SetLimitsY(0, 1);
        string accuracyPath = Path.Combine(directory, "accuracy.png");
        accuracy.SavePng(accuracyPath, 800, 500);
        paths.Add(accuracyPath);

        if (result.Rounds.All(r => r.Extra.ContainsKey("epsilon")))
        {
            var epsilon = new ScottPlot.Plot();
            epsilon.Add.Scatter(rounds, result.Rounds.Select(r => r.Extra["epsilon"]).ToArray());
            epsilon.Title($"privacy spent (δ = {result.Privacy?.Delta:G3})");
            epsilon.XLabel("round");
            epsilon.YLabel("ε");
            string epsilonPath = Path.Combine(directory, "epsilon.png");
            epsilon.SavePng(epsilonPath, 800, 500);
            paths.Add(epsilonPath);
        }

        return paths;
    }
}
