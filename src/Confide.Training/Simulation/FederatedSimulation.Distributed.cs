using Confide.Privacy;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Training.Simulation;

/// <summary>Distributed DP under secure aggregation (<see cref="DpPlacement.Distributed"/>).</summary>
public sealed partial class FederatedSimulation
{
    private const int DistributedModulusBits = 32;

    private DistributedDpPlan? _ddpPlan;
    private PrivacyLedger? _ddpLedger;

    /// <summary>
    /// Chooses the quantizer scale and each client's discrete Gaussian for distributed DP (Kairouz, Liu, Steinke 2021)
    /// with <see cref="DistributedDpPlan"/>: the largest power-of-two scale s for which N clients' clipped updates plus 12σ
    /// of noise each fit the signed range of Z_{2^32}, and σ (quanta) calibrated for the run's (ε, δ), or set from a
    /// given z as σ = z·Δ₂/√n_min.
    /// </summary>
    private PrivacySettings ConfigureDistributedDp(SimulationOptions options, double sampleRate)
    {
        if (!options.SecureAggregation)
        {
            throw new ArgumentException("--dp-mode distributed adds each client's noise before secure-aggregation masking; it needs --secure-agg (drop --no-secure-agg, or use --dp-mode central).");
        }

        int minimum = options.DpMinimumSurvivors ?? options.ClientsPerRound;
        if (minimum < 2 || minimum > options.Clients)
        {
            throw new ArgumentException($"--dp-min-survivors {minimum} is out of range: secure aggregation needs at least 2 survivors and there are {options.Clients} clients.");
        }

        double clip = options.ClipNorm;
        if (!(clip > 0) || !double.IsFinite(clip))
        {
            throw new ArgumentException($"--clip must be a finite positive number, got {clip}.");
        }

        int dimension = Model.Layout.TotalLength;
        double beta = options.DpRoundingBeta;
        var plan = options.DpEpsilon is double epsilon
            ? DistributedDpPlan.ForTargetEpsilon(clip, options.Clients, minimum, dimension, DistributedModulusBits, beta, epsilon, options.DpDelta, sampleRate, options.Rounds)
            : DistributedDpPlan.ForNoiseMultiplier(clip, options.Clients, minimum, dimension, DistributedModulusBits, beta, options.DpNoiseMultiplier!.Value);
        _ddpPlan = plan;
        var settings = new DistributedDpSettings(plan.Scale, DistributedModulusBits, plan.ClientSigma, minimum, beta, plan.L2Sensitivity, plan.L1Sensitivity, dimension);
        var budget = new PrivacyBudget(options.DpEpsilon is double e ? e * (1 + 1e-6) : 1e300, options.DpDelta);
        _ddpLedger = new PrivacyLedger(budget);
        return new PrivacySettings(plan.EffectiveNoiseMultiplier, clip, sampleRate, options.DpDelta, options.DpEpsilon, settings);
    }

    /// <summary>
    /// One round of distributed DP: each kept client quantizes its clipped update (honest clients round conditionally,
    /// within Δ₂), adds N_Z(0, σ²) to every coordinate and masks it; the server learns only the noisy sum, charges the
    /// ledger for min(survivors, n_min) noise shares, and divides the decoded sum by the expected m (DP-FedAvg's fixed
    /// denominator). Returns null when nothing is released: fewer than two clients, or the budget refuses the round.
    /// </summary>
    /// <remarks>
    /// The simulation charges after the protocol has run but before the sum is decoded or used; a deployment charges when
    /// the survivor list is fixed (after the consistency check), before unmasking. Malicious clients round once and skip
    /// the norm check (the server cannot enforce norms under SecAgg); they still add noise, and the accounting assumes at
    /// least min(survivors, n_min) survivors do.
    /// </remarks>
    private float[]? DistributedAggregate(int round, int[] participants, List<int> kept, float[][] updates, int length, IRandomSource random, List<ClientFlag> flags, Dictionary<string, double> extra)
    {
        var plan = _ddpPlan!;
        var ledger = _ddpLedger!;
        int n = kept.Count;
        extra["epsilon"] = ledger.Spent.Epsilon;
        if (n < 2)
        {
            foreach (int i in kept)
            {
                flags.Add(new ClientFlag(participants[i], _isMalicious[participants[i]], "not aggregated: secure aggregation needs at least 2 clients in a round"));
            }

            return null;
        }

        var inputs = new ulong[n][];
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Options.Parallelism }, j =>
        {
            int client = participants[kept[j]];
            try
            {
                inputs[j] = plan.Encode(updates[kept[j]], random.Fork((ulong)j + 1), roundConditionally: !_isMalicious[client]);
            }
            catch (InvalidOperationException ex)
            {
                throw new InvalidOperationException($"Round {round}, client {client}: {ex.Message}", ex);
            }
        });

        var run = SecAggSimulation.Run(inputs, SecAggOptionsFor(n, length), SecAggDropouts.None, random.Fork(0));
        if (!run.Completed)
        {
            throw new InvalidOperationException($"Round {round}: secure aggregation aborted: {run.Error?.Message}");
        }

        extra["secagg_client_ms"] = run.ClientMilliseconds;
        extra["secagg_server_ms"] = run.ServerTotalMilliseconds;
        int survivors = run.Result!.Survivors.Count;
        var entry = plan.Release(survivors, Privacy!.SampleRate);
        int shares = entry.NoiseShares;
        extra["noise_shares"] = shares;
        if (!ledger.TryCharge([new PrivacyRelease(ledger.NextRound, DistributedDpPlan.MechanismName, entry)], out var after))
        {
            foreach (int i in kept)
            {
                flags.Add(new ClientFlag(participants[i], _isMalicious[participants[i]],
                    $"round refused: {shares} noise shares would take ε to {after.Epsilon:F3}, past the budget; the sum was discarded"));
            }

            return null;
        }

        extra["epsilon"] = after.Epsilon;
        var sum = new double[length];
        plan.Quantizer.DequantizeSum(run.Result.Sum, sum);
        var aggregate = new float[length];
        double factor = 1.0 / Options.ClientsPerRound;
        for (int i = 0; i < length; i++)
        {
            aggregate[i] = (float)(sum[i] * factor);
        }

        return aggregate;
    }

    private SecAggOptions SecAggOptionsFor(int n, int length)
    {
        int k = Math.Min(Options.Neighbours ?? n - 1, n - 1);
        if (k < n - 1 && k % 2 == 1 && n % 2 == 1)
        {
            // A k-regular Harary graph needs n·k even; Poisson sampling makes n vary, so step down to the even degree.
            k--;
        }

        return new SecAggOptions(n, (k / 2) + 1, StochasticQuantizer.EncodedLength(length), k, DistributedModulusBits);
    }
}
