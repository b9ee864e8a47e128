namespace Confide.Training.Simulation;

/// <summary>
/// Everything that fixes a simulated federated run. Spellings (model, partition, aggregator, attack) are parsed by the
/// catalogs when the simulation is built, so a bad value fails before any training. Numeric values are checked here.
/// Defaults: the embedded digits, an MLP, 10 clients, 20 rounds, everyone every round, 2 local epochs of batch 16 at
/// lr 0.05 with momentum 0.9, IID, FedAvg, no attack, seed 1.
/// </summary>
public sealed record SimulationOptions
{
    /// <summary>"digits" (embedded) or "fashion-mnist".</summary>
    public string Dataset { get; init; } = "digits";

    /// <summary>The Fashion-MNIST directory, or null for the Debian package's.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The model spelling (<see cref="ModelCatalog.Syntax"/>).</summary>
    public string Model { get; init; } = "mlp";

    /// <summary>The number of clients N ≥ 1.</summary>
    public int Clients { get; init => field = Positive(value, nameof(Clients)); } = 10;

    /// <summary>The number of rounds R ≥ 1.</summary>
    public int Rounds { get; init => field = Positive(value, nameof(Rounds)); } = 20;

    /// <summary>The fraction of clients sampled each round, in (0, 1].</summary>
    public double Fraction
    {
        get;
        init
        {
            if (!(value > 0 && value <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(Fraction), value, "The client fraction must lie in (0, 1].");
            }

            field = value;
        }
    } = 1.0;

    /// <summary>Local training per client and round (epochs, batch, learning rate, momentum, weight decay, FedProx μ).</summary>
    public TrainingOptions Training { get; init; } = new() { Epochs = 2, BatchSize = 16, LearningRate = 0.05, Momentum = 0.9 };

    /// <summary>The partition spelling (<see cref="Partitioning.PartitionerCatalog.Syntax"/>).</summary>
    public string Partition { get; init; } = "iid";

    /// <summary>The aggregator spelling (<see cref="AggregatorSpelling.Syntax"/>).</summary>
    public string Aggregator { get; init; } = "fedavg";

    /// <summary>The f that robust aggregators assume, or null for the number of malicious clients.</summary>
    public int? Byzantine { get; init => field = value is int v ? NonNegative(v, nameof(Byzantine)) : null; }

    /// <summary>The attack spelling (<see cref="Attacks.AttackCatalog.Syntax"/>), or null for none.</summary>
    public string? Attack { get; init; }

    /// <summary>How many of the clients are malicious (chosen at random with the seed).</summary>
    public int Malicious { get; init => field = NonNegative(value, nameof(Malicious)); }

    /// <summary>The seed of every random draw in the run.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The share of the digits held out for testing (Fashion-MNIST has its own test set).</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>The size of the server's root set (FLTrust), carved from the training data.</summary>
    public int RootSize { get; init => field = NonNegative(value, nameof(RootSize)); } = 100;

    /// <summary>The number of clients run at once (default: the processor count).</summary>
    public int Parallelism { get; init => field = Positive(value, nameof(Parallelism)); } = Environment.ProcessorCount;

    /// <summary>
    /// DP-FedAvg noise multiplier z (noise N(0, z²C²) on the sum of clipped updates), or null. Give this or
    /// <see cref="DpEpsilon"/>, not both; either turns DP on.
    /// </summary>
    public double? DpNoiseMultiplier { get; init; }

    /// <summary>A target ε for the whole run: z is calibrated so that R rounds at q = m/N spend at most ε at δ. Null for none.</summary>
    public double? DpEpsilon { get; init; }

    /// <summary>δ for DP accounting. Default 1e-5.</summary>
    public double DpDelta { get; init; } = 1e-5;

    /// <summary>The L2 clip norm C of each client update under DP. Default 1.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>
    /// Whether updates are summed through the secure-aggregation protocol (Bonawitz et al. 2017, run in process with real
    /// cryptography), so the server sees only the sum. Needs FedAvg (or DP-FedAvg): robust aggregators need each update.
    /// </summary>
    public bool SecureAggregation { get; init; }

    /// <summary>SecAgg+ neighbourhood size k (Bell et al. 2020), or null for the full graph.</summary>
    public int? Neighbours { get; init => field = value is int v ? Positive(v, nameof(Neighbours)) : null; }

    /// <summary>Under secure aggregation without DP, each coordinate is clipped to [−c, c] before quantizing. Default 1.</summary>
    public double SecAggClipRange { get; init; } = 1.0;

    /// <summary>
    /// Where DP noise is added: <see cref="DpPlacement.Central"/> (default; the server noises the sum) or
    /// <see cref="DpPlacement.Distributed"/> (each client adds discrete Gaussian noise before secure-aggregation masking;
    /// needs <see cref="SecureAggregation"/>).
    /// </summary>
    public DpPlacement DpPlacement { get; init; } = DpPlacement.Central;

    /// <summary>
    /// Distributed DP: the fewest surviving clients the per-client noise is calibrated for (default: the clients per
    /// round). A round with fewer survivors carries less noise and is charged for its actual count.
    /// </summary>
    public int? DpMinimumSurvivors { get; init => field = value is int v ? Positive(v, nameof(DpMinimumSurvivors)) : null; }

    /// <summary>
    /// Distributed DP: the conditional-rounding β in [0, 1) (Kairouz et al. 2021): a client rounds again until its
    /// quantized norm is within the bound that holds with probability 1 − β. 0 rounds once and uses the looser bound
    /// c·s + √d. Default e^(−1/2), as in the paper's experiments.
    /// </summary>
    public double DpRoundingBeta
    {
        get;
        init
        {
            if (!(value >= 0 && value < 1))
            {
                throw new ArgumentOutOfRangeException(nameof(DpRoundingBeta), value, "The conditional-rounding β must lie in [0, 1).");
            }

            field = value;
        }
    } = Math.Exp(-0.5);

    /// <summary>
    /// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, "Differentially Private Learning with Adaptive
    /// Clipping", NeurIPS 2021) under central DP: the clip norm starts at <see cref="ClipNorm"/> and follows this
    /// target quantile γ ∈ (0, 1) of the update norms, from a noisy count of clients under the bound. Null keeps C fixed.
    /// </summary>
    public double? DpAdaptiveQuantile { get; init; }

    /// <summary>Adaptive clipping: the geometric learning rate η of C ← C·exp(−η(b̄ − γ)); null for the paper's 0.2.</summary>
    public double? DpAdaptiveLearningRate { get; init; }

    /// <summary>Adaptive clipping: σ_b, the noise on the count of clients under the bound; null for the paper's m/20.</summary>
    public double? DpCountNoise { get; init; }

    /// <summary>
    /// Central DP without secure aggregation: the server clips the raw updates and sees their norms
    /// (<c>ClippingPlacement.Server</c>); false (default) has honest clients clip and, with adaptive clipping, report
    /// their "norm ≤ C" bit (<c>ClippingPlacement.Client</c>, the only choice under secure aggregation).
    /// </summary>
    public bool DpServerSideClipping { get; init; }

    /// <summary>Whether DP-FedAvg is on.</summary>
    public bool DifferentialPrivacy => DpNoiseMultiplier is not null || DpEpsilon is not null;

    /// <summary>The clients sampled per round: max(1, round(fraction · N)).</summary>
    public int ClientsPerRound => Math.Max(1, (int)Math.Round(Fraction * Clients));

    private static int Positive(int value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        return value;
    }

    private static int NonNegative(int value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value, name);
        return value;
    }
}
