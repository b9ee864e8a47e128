namespace Confide.Aggregation.Optimizers;

/// <summary>
/// Names a server optimiser and its parameters, so servers and simulations build it the same way through
/// <see cref="Create"/>. Parameters left null take the optimiser's documented default (FedAvgM's momentum has none and
/// is required). The values are checked by the optimiser's constructor, so <see cref="Create"/> refuses bad ones.
/// </summary>
/// <param name="Method">One of <see cref="Methods"/>.</param>
/// <param name="LearningRate">η &gt; 0.</param>
/// <param name="Momentum">β of fedavgm (required there, refused elsewhere).</param>
/// <param name="Beta1">β₁ of fedadam and fedyogi.</param>
/// <param name="Beta2">β₂ of fedadam and fedyogi.</param>
/// <param name="Tau">τ of fedadam, fedyogi and fedadagrad.</param>
public sealed record ServerOptimizerSettings(
    string Method,
    double LearningRate,
    double? Momentum = null,
    double? Beta1 = null,
    double? Beta2 = null,
    double? Tau = null)
{
    /// <summary>The method names: sgd (<see cref="ServerSgd"/>), fedavgm, fedadam, fedyogi, fedadagrad.</summary>
    public static IReadOnlyList<string> Methods { get; } = ["sgd", "fedavgm", "fedadam", "fedyogi", "fedadagrad"];

    /// <summary>Builds the optimiser (fresh state).</summary>
    /// <exception cref="ArgumentException">An unknown method, a parameter the method does not take, or a missing momentum.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A parameter out of its range.</exception>
    public ICheckpointableServerOptimizer Create()
    {
        string method = Method?.Trim().ToLowerInvariant() ?? "";
        bool moments = method is "fedadam" or "fedyogi";
        Refuse(Momentum is not null && method != "fedavgm", "momentum", "fedavgm");
        Refuse((Beta1 is not null || Beta2 is not null) && !moments, "beta1/beta2", "fedadam and fedyogi");
        Refuse(Tau is not null && !moments && method != "fedadagrad", "tau", "fedadam, fedyogi and fedadagrad");
        return method switch
        {
            "sgd" => new ServerSgd(LearningRate),
            "fedavgm" => new FedAvgM(LearningRate, Momentum ?? throw new ArgumentException("fedavgm needs a momentum β in [0, 1) (Hsu et al. use 0.9).", nameof(Momentum))),
            "fedadam" => new FedAdam(LearningRate, Beta1 ?? 0.9, Beta2 ?? 0.99, Tau ?? 1e-9),
            "fedyogi" => new FedYogi(LearningRate, Beta1 ?? 0.9, Beta2 ?? 0.99, Tau ?? 1e-3),
            "fedadagrad" => new FedAdagrad(LearningRate, Tau ?? 1e-9),
            _ => throw new ArgumentException($"Unknown server optimiser '{Method}'; expected one of {string.Join(", ", Methods)}.", nameof(Method)),
        };

        void Refuse(bool given, string what, string takers)
        {
            if (given)
            {
                throw new ArgumentException($"Server optimiser '{Method}' takes no {what}; only {takers} do.", what);
            }
        }
    }
}
