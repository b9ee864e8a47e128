namespace Confide.Training;

/// <summary>
/// Local training settings: E epochs of mini-batch SGD with momentum and weight decay, as PyTorch's
/// <c>torch.optim.SGD</c> defines them (v ← m·v + g, θ ← θ − η·v, with g including the weight-decay term),
/// and an optional FedProx proximal term μ/2·‖θ − θ_global‖² (Li et al. 2020, "Federated Optimization in
/// Heterogeneous Networks"). Every value is checked where it is set.
/// </summary>
public sealed record TrainingOptions
{
    private readonly int _epochs = 1;
    private readonly int _batchSize = 32;
    private readonly double _learningRate = 0.05;
    private readonly double _momentum;
    private readonly double _weightDecay;
    private readonly double _proximalMu;
    private readonly int _parallelism = 1;
    private readonly int? _maxSteps;

    /// <summary>Passes over the local data (E ≥ 1). Default 1.</summary>
    public int Epochs
    {
        get => _epochs;
        init { ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(Epochs)); _epochs = value; }
    }

    /// <summary>Samples per step (B ≥ 1); the last batch of an epoch may be smaller. Default 32.</summary>
    public int BatchSize
    {
        get => _batchSize;
        init { ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(BatchSize)); _batchSize = value; }
    }

    /// <summary>The step size η &gt; 0. Default 0.05.</summary>
    public double LearningRate
    {
        get => _learningRate;
        init { RequireFinite(value, nameof(LearningRate), min: 0, minExclusive: true); _learningRate = value; }
    }

    /// <summary>The momentum m in [0, 1). Default 0.</summary>
    public double Momentum
    {
        get => _momentum;
        init
        {
            RequireFinite(value, nameof(Momentum), min: 0, minExclusive: false);
            if (value >= 1)
            {
                throw new ArgumentOutOfRangeException(nameof(Momentum), value, "Momentum must be below 1.");
            }

            _momentum = value;
        }
    }

    /// <summary>L2 weight decay λ ≥ 0, added to the gradient as λ·θ. Default 0.</summary>
    public double WeightDecay
    {
        get => _weightDecay;
        init { RequireFinite(value, nameof(WeightDecay), min: 0, minExclusive: false); _weightDecay = value; }
    }

    /// <summary>FedProx μ ≥ 0: adds μ·(θ − θ_start) to the gradient, where θ_start are the weights when training began (the global model). Default 0.</summary>
    public double ProximalMu
    {
        get => _proximalMu;
        init { RequireFinite(value, nameof(ProximalMu), min: 0, minExclusive: false); _proximalMu = value; }
    }

    /// <summary>
    /// When set, training stops after this many SGD steps, even part-way through an epoch; null (the default) runs every
    /// epoch in full. It lets a trainer take a given number of local iterations, as FLTrust's server does
    /// (Cao et al. 2021, Algorithm 1), whatever the size of its data.
    /// </summary>
    public int? MaxSteps
    {
        get => _maxSteps;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxSteps), value, "MaxSteps must be a positive number of steps, or null for whole epochs.");
            }

            _maxSteps = value;
        }
    }

    /// <summary>Threads used to split each batch (≥ 1). Results do not depend on it except for float summation order. Default 1.</summary>
    public int Parallelism
    {
        get => _parallelism;
        init { ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, nameof(Parallelism)); _parallelism = value; }
    }

    private static void RequireFinite(double value, string name, double min, bool minExclusive)
    {
        if (!double.IsFinite(value) || value < min || (minExclusive && value == min))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number {(minExclusive ? ">" : "≥")} {min}.");
        }
    }
}
