using Confide.Aggregation;
using Confide.Aggregation.Optimizers;
using Confide.Privacy;
using Confide.Protocol.Internal;
using Confide.Updates;

namespace Confide.Protocol.Rounds;

/// <summary>
/// Settings of a federated run: how many rounds, how clients are sampled, how long a round collects, how many updates
/// it needs, how they are checked and aggregated, and (optionally) DP-FedAvg. Validated where built.
/// </summary>
public sealed record RoundOptions
{
    /// <summary>Creates and validates the options.</summary>
    /// <param name="rounds">Rounds to run, at least 1.</param>
    /// <param name="sampling">Clients per round.</param>
    /// <param name="collectTimeout">How long a round collects updates; later updates are stragglers.</param>
    /// <param name="minUpdates">Accepted updates needed to aggregate; with fewer the round fails and the model is unchanged.</param>
    /// <param name="aggregator">The aggregator (ignored when <paramref name="privacy"/> is set: DP-FedAvg aggregates then).</param>
    /// <param name="serverLearningRate">η of the server SGD step applied to the aggregate (1 is plain FedAvg); see <see cref="ServerOptimizer"/> for the other optimisers.</param>
    /// <param name="maxSampleCount">The largest sample count an update may claim.</param>
    /// <param name="maxUpdateNorm">An L2 bound every update must respect, or null.</param>
    /// <param name="privacy">DP-FedAvg settings, or null for no DP.</param>
    public RoundOptions(
        long rounds,
        ClientSampling sampling,
        TimeSpan collectTimeout,
        int minUpdates,
        AggregatorSettings aggregator,
        double serverLearningRate = 1.0,
        long maxSampleCount = 1_000_000,
        double? maxUpdateNorm = null,
        DpFedAvgOptions? privacy = null)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(aggregator);
        OptionChecks.AtLeast(rounds, 1, nameof(rounds), "The number of rounds");
        OptionChecks.PositiveDuration(collectTimeout, nameof(collectTimeout), "The collect timeout");
        OptionChecks.AtLeast(minUpdates, 1, nameof(minUpdates), "The minimum number of updates");
        // FedAvg weighs by the count as a double, which holds integers exactly up to 2^53.
        OptionChecks.InRange(maxSampleCount, 1, UpdateValidationOptions.LargestMaxSampleCount, nameof(maxSampleCount), "The largest sample count");
        OptionChecks.PositiveFinite(serverLearningRate, nameof(serverLearningRate), "The server learning rate");
        if (maxUpdateNorm is double bound)
        {
            OptionChecks.PositiveFinite(bound, nameof(maxUpdateNorm), "The update norm bound");
        }

        int needed = privacy is null ? AggregatorCatalog.MinimumClients(aggregator) : 1;
        if (minUpdates < needed)
        {
            throw new ArgumentException(
                $"Aggregator '{aggregator.Method}' with f = {aggregator.Byzantine} needs at least {needed} updates, but the minimum number of updates is {minUpdates}.",
                nameof(minUpdates));
        }

        int maxSampled = sampling.Count ?? int.MaxValue;
        if (sampling.Count is not null && maxSampled < minUpdates)
        {
            throw new ArgumentException($"Each round samples {maxSampled} clients, fewer than the {minUpdates} updates it needs.", nameof(minUpdates));
        }

        Rounds = rounds;
        Sampling = sampling;
        CollectTimeout = collectTimeout;
        MinUpdates = minUpdates;
        Aggregator = aggregator;
        ServerLearningRate = serverLearningRate;
        MaxSampleCount = maxSampleCount;
        MaxUpdateNorm = maxUpdateNorm;
        Privacy = privacy;
    }

    /// <summary>Rounds to run.</summary>
    public long Rounds { get; }

    /// <summary>Clients per round.</summary>
    public ClientSampling Sampling { get; }

    /// <summary>How long a round collects updates.</summary>
    public TimeSpan CollectTimeout { get; }

    /// <summary>Accepted updates needed to aggregate.</summary>
    public int MinUpdates { get; }

    /// <summary>The aggregator when DP is off.</summary>
    public AggregatorSettings Aggregator { get; }

    /// <summary>η of the server SGD step (used when no other <see cref="ServerOptimizer"/> is set).</summary>
    public double ServerLearningRate { get; }

    /// <summary>
    /// The server optimiser (Reddi et al. 2021): server SGD with <see cref="ServerLearningRate"/> unless set; a set
    /// optimiser carries its own η. Stateful ones (fedavgm, fedadam, fedyogi, fedadagrad) keep their state across
    /// rounds; a host checkpoints it with each round (<see cref="RoundCoordinator.ExportServerState"/>).
    /// Checked when set (the optimiser is built once).
    /// </summary>
    public ServerOptimizerSettings ServerOptimizer
    {
        get => field ?? new ServerOptimizerSettings("sgd", ServerLearningRate);
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Create();
            field = value;
        }
    }

    /// <summary>The largest sample count accepted.</summary>
    public long MaxSampleCount { get; }

    /// <summary>The L2 bound on updates, or null.</summary>
    public double? MaxUpdateNorm { get; }

    /// <summary>DP-FedAvg settings, or null.</summary>
    public DpFedAvgOptions? Privacy { get; }

    /// <summary>
    /// Distributed DP under secure aggregation (Kairouz, Liu, Steinke 2021), or null for central DP: each client adds its
    /// own discrete Gaussian noise before masking, the coordinator adds none, charges each released round with the
    /// plan's entry, and fails a round with fewer than <see cref="DistributedDpPlan.MinimumSurvivors"/> contributors
    /// without charging or releasing anything. Needs <see cref="Privacy"/> with client-side clipping at the plan's clip
    /// norm and a fixed clients-per-round count (q = m/N and the 1/m denominator come from it). Checked when set.
    /// </summary>
    public DistributedDpPlan? DistributedPrivacy
    {
        get;
        init
        {
            if (value is not null)
            {
                CheckDistributed(value);
            }

            field = value;
        }
    }

    private void CheckDistributed(DistributedDpPlan plan)
    {
        if (Privacy is not { } dp)
        {
            throw new ArgumentException("Distributed DP needs the DP-FedAvg settings too (clip norm, expected clients per round, population) for its accounting.", nameof(DistributedPrivacy));
        }

        if (dp.Placement != ClippingPlacement.Client || dp.AdaptiveClipping is not null)
        {
            throw new ArgumentException("Distributed DP needs fixed client-side clipping: each client clips before it adds its noise (adaptive clipping is not combined with it).", nameof(DistributedPrivacy));
        }

        if (dp.ClipNorm != plan.ClipNorm)
        {
            throw new ArgumentException($"The distributed-DP plan clips to {plan.ClipNorm}, the DP-FedAvg settings to {dp.ClipNorm}; they must agree.", nameof(DistributedPrivacy));
        }

        if (Sampling.Count is not int m || m > plan.MaxClients || m < plan.MinimumSurvivors)
        {
            throw new ArgumentException(
                $"Distributed DP needs a fixed clients-per-round count between the plan's minimum survivors ({plan.MinimumSurvivors}) and the clients its modulus holds ({plan.MaxClients}); got {Sampling.Count?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "a fraction"}.",
                nameof(DistributedPrivacy));
        }
    }
}
