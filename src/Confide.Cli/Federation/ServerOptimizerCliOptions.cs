using System.CommandLine;
using Confide.Aggregation.Optimizers;
using Confide.Privacy;

namespace Confide.Cli.Federation;

/// <summary>
/// The <c>confide server</c> options for the stateful server optimisers (Reddi et al. 2021) and adaptive clipping
/// (Andrew et al. 2021). Both keep state across rounds, which the server checkpoints with every round.
/// </summary>
internal sealed class ServerOptimizerCliOptions
{
    private readonly Option<string> _optimizer = new("--server-optimizer") { Description = $"Server optimiser: {string.Join(", ", ServerOptimizerSettings.Methods)} (η is --server-lr).", DefaultValueFactory = _ => "sgd" };
    private readonly Option<double?> _momentum = new("--server-momentum") { Description = "fedavgm: momentum β in [0, 1)." };
    private readonly Option<double?> _beta1 = new("--server-beta1") { Description = "fedadam, fedyogi: β₁ (default 0.9)." };
    private readonly Option<double?> _beta2 = new("--server-beta2") { Description = "fedadam, fedyogi: β₂ (default 0.99)." };
    private readonly Option<double?> _tau = new("--server-tau") { Description = "fedadam, fedyogi, fedadagrad: adaptivity τ (defaults 1e-9, 1e-3, 1e-9)." };
    private readonly Option<double?> _quantile = new("--dp-adaptive-quantile") { Description = "DP: adapt the clip norm (starting at --dp-clip) to this quantile γ of update norms (Andrew et al.). With --dp-client-clip each client reports whether its norm was at most C (inside the secure sum with --secure-agg)." };
    private readonly Option<double> _clipLr = new("--dp-adaptive-lr") { Description = "DP adaptive clipping: geometric learning rate η_C.", DefaultValueFactory = _ => AdaptiveClippingOptions.DefaultLearningRate };
    private readonly Option<double?> _countNoise = new("--dp-count-noise") { Description = "DP adaptive clipping: noise σ_b on the clipped count (default: clients per round / 20)." };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public static ServerOptimizerCliOptions AddTo(Command command)
    {
        var o = new ServerOptimizerCliOptions();
        foreach (var option in new Option[] { o._optimizer, o._momentum, o._beta1, o._beta2, o._tau, o._quantile, o._clipLr, o._countNoise })
        {
            command.Options.Add(option);
        }

        return o;
    }

    /// <summary>The server optimiser, checked by building it once.</summary>
    public ServerOptimizerSettings Optimizer(ParseResult parse, double learningRate)
    {
        var settings = new ServerOptimizerSettings(parse.GetValue(_optimizer)!, learningRate, parse.GetValue(_momentum), parse.GetValue(_beta1), parse.GetValue(_beta2), parse.GetValue(_tau));
        try
        {
            settings.Create();
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"Bad server optimiser: {FirstLine(ex.Message)}", 2);
        }

        return settings;
    }

    /// <summary>True when adaptive clipping was asked for.</summary>
    public bool Adaptive(ParseResult parse) => parse.GetValue(_quantile) is not null;

    /// <summary>
    /// DP-FedAvg with adaptive clipping, from the DP settings the server command already read. With
    /// <paramref name="clientClip"/> the clients clip and report their clip indicator (in the update header, or inside
    /// the secure sum).
    /// </summary>
    public DpFedAvgOptions AdaptiveDp(ParseResult parse, double noiseMultiplier, double initialClip, int expected, long population, bool clientClip)
    {
        try
        {
            var adaptive = new AdaptiveClippingOptions(initialClip, parse.GetValue(_quantile)!.Value, parse.GetValue(_clipLr), parse.GetValue(_countNoise) ?? AdaptiveClippingOptions.DefaultCountNoise(expected));
            return DpFedAvgOptions.Adaptive(noiseMultiplier, adaptive, expected, population, clientClip ? ClippingPlacement.Client : ClippingPlacement.Server);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"Bad adaptive clipping settings: {FirstLine(ex.Message)}", 2);
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
