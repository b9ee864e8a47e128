using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics.Tensors;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Training.Attacks;
using Confide.Training.Data;
using Confide.Training.Models;
using Confide.Training.Partitioning;

namespace Confide.Training.Simulation;

/// <summary>
/// A federated run in one process (FedAvg's loop, McMahan et al. 2017): each round samples clients, each trains the
/// global model on its own data in parallel, malicious clients poison their data or their update, the server aggregates
/// the updates (client weights minus global weights) with the chosen rule and adds the aggregate to the global model,
/// then evaluates it on the held-out test set.
/// </summary>
/// <remarks>
/// Every random draw comes from one <see cref="SeededRandomSource"/> through fixed forks (data split, partition,
/// attacker choice, initial weights, per-round sampling, per-client training, per-attacker crafting, the server's root
/// update), and clients write to their own slots, so a seed gives the same result whatever the thread timing.
/// Updates with a non-finite value (a client whose training diverged) are excluded before aggregation and flagged.
/// </remarks>
public sealed partial class FederatedSimulation
{
    private const ulong StreamSplit = 1, StreamPartition = 2, StreamMalicious = 3, StreamInit = 4, StreamPoison = 5,
        StreamSampling = 6, StreamTraining = 7, StreamCrafting = 8, StreamServer = 9, StreamExtensions = 10, StreamNoise = 11, StreamSecAgg = 12;

    private readonly SeededRandomSource _root;
    private readonly Dataset[] _clientData;
    private readonly Dataset?[] _poisoned;
    private readonly bool[] _isMalicious;
    private readonly MaliciousBehaviour? _behaviour;
    private readonly AggregatorFactory _aggregator;
    private readonly IReadOnlyList<ISimulationExtension> _extensions;
    private readonly TrainingOptions _clientTraining;
    private readonly ConcurrentBag<SgdClassifier> _pool = [];
    private readonly Stopwatch _setupClock;
    private GaussianNoise? _secAggNoise;

    /// <summary>
    /// Loads the data and builds everything the run needs, checking every option first: a bad spelling, a partition
    /// that does not fit, or an aggregator whose preconditions fail for the clients per round is an
    /// <see cref="ArgumentException"/> before any training.
    /// </summary>
    public FederatedSimulation(SimulationOptions options, IReadOnlyList<ISimulationExtension>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _setupClock = Stopwatch.StartNew();
        Options = options;
        _extensions = extensions ?? [];
        _root = new SeededRandomSource(options.Seed);
        _clientTraining = options.Training with { Parallelism = 1 };

        Data = LoadData(options, _root.Fork(StreamSplit));
        Model = ModelCatalog.Create(options.Model, Data.Clients.Shape, Data.Clients.ClassCount);
        var partitioner = PartitionerCatalog.Parse(options.Partition);
        var parts = partitioner.Partition(Data.Clients.Labels, Data.Clients.ClassCount, options.Clients, _root.Fork(StreamPartition));
        _clientData = parts.Select((p, c) => Data.Clients.Subset(p, $"client {c}")).ToArray();

        if (options.Malicious > options.Clients)
        {
            throw new ArgumentException($"--malicious {options.Malicious} exceeds the {options.Clients} clients.");
        }

        if (options.Malicious > 0 && options.Attack is null)
        {
            throw new ArgumentException($"--malicious {options.Malicious} needs an --attack ({AttackCatalog.Syntax}).");
        }

        if (options.Attack is not null && options.Malicious == 0)
        {
            throw new ArgumentException($"--attack {options.Attack} needs --malicious m with m ≥ 1 malicious clients.");
        }

        _behaviour = options.Attack is null ? null : AttackCatalog.Parse(options.Attack);
        MaliciousClients = DatasetSplitter.Permutation(options.Clients, _root.Fork(StreamMalicious))[..options.Malicious].Order().ToArray();
        _isMalicious = new bool[options.Clients];
        foreach (int c in MaliciousClients)
        {
            _isMalicious[c] = true;
        }

        _poisoned = new Dataset?[options.Clients];
        if (_behaviour?.Data is { } dataAttack)
        {
            var poisonRoot = _root.Fork(StreamPoison);
            foreach (int c in MaliciousClients)
            {
                _poisoned[c] = dataAttack.Poison(_clientData[c], poisonRoot.Fork((ulong)c));
            }
        }

        if (_behaviour?.Model is ALittleIsEnough { Z: null })
        {
            // Fails early if the attackers would hold a majority of a round, where the paper's z_max is undefined.
            ALittleIsEnough.ZMax(options.ClientsPerRound, Math.Min(options.Malicious, options.ClientsPerRound));
        }

        Byzantine = options.Byzantine ?? options.Malicious;
        _aggregator = AggregatorSpelling.Parse(options.Aggregator, Byzantine);
        if (_aggregator.NeedsServerUpdate && Data.Root.Count == 0)
        {
            throw new ArgumentException($"--aggregator {options.Aggregator} needs a server root set; the root size is 0.");
        }

        if (options.SecureAggregation && !options.DifferentialPrivacy && !string.Equals(options.Aggregator, "fedavg", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException(
                $"--secure-agg shows the server only the sum of the updates; --aggregator {options.Aggregator} needs each update. Use fedavg (or DP-FedAvg).");
        }

        if (options.SecureAggregation && options.Clients < 2)
        {
            throw new ArgumentException("--secure-agg needs at least 2 clients.");
        }

        if (options.SecureAggregation && (!double.IsFinite(options.SecAggClipRange) || options.SecAggClipRange <= 0))
        {
            throw new ArgumentException($"The secure-aggregation clipping range must be a finite positive number, got {options.SecAggClipRange}.");
        }

        if (options.DpPlacement == DpPlacement.Central && options.DpMinimumSurvivors is not null)
        {
            throw new ArgumentException("--dp-min-survivors applies to --dp-mode distributed only: central DP noises the sum once, whoever survives.");
        }

        if (options.DpPlacement == DpPlacement.Distributed && !options.DifferentialPrivacy)
        {
            throw new ArgumentException("--dp-mode distributed needs DP on: give --dp-epsilon or --dp-noise.");
        }

        CheckAdaptiveClipping(options);

        if (options.DifferentialPrivacy)
        {
            if (options.DpNoiseMultiplier is not null && options.DpEpsilon is not null)
            {
                throw new ArgumentException("Give --dp-noise or --dp-epsilon, not both.");
            }

            if (!string.Equals(options.Aggregator, "fedavg", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException(
                    $"With DP the aggregator is DP-FedAvg (McMahan et al. 2018), which clips, sums and adds noise; --aggregator {options.Aggregator} cannot be combined with it.");
            }

            double q = (double)options.ClientsPerRound / options.Clients;
            if (options.DpPlacement == DpPlacement.Distributed)
            {
                Privacy = ConfigureDistributedDp(options, q);
            }
            else
            {
                double z = options.DpNoiseMultiplier ?? NoiseCalibration.CalibrateNoiseMultiplier(options.DpEpsilon!.Value, options.DpDelta, q, options.Rounds);
                Privacy = new PrivacySettings(z, options.ClipNorm, q, options.DpDelta, options.DpEpsilon);
                _ = CreateDpFedAvg(); // validates z, C and δ now
            }
        }
        else
        {
            DryRunAggregator(options.ClientsPerRound);
        }
    }

    /// <summary>The DP settings, or null without DP.</summary>
    public PrivacySettings? Privacy { get; }

    /// <summary>The options.</summary>
    public SimulationOptions Options { get; }

    /// <summary>The client pool, the test set and the server's root set.</summary>
    public FederatedDataset Data { get; }

    /// <summary>The architecture.</summary>
    public IModel Model { get; }

    /// <summary>The malicious clients' ids, ascending.</summary>
    public IReadOnlyList<int> MaliciousClients { get; }

    /// <summary>The f given to robust aggregators.</summary>
    public int Byzantine { get; }

    /// <summary>Each client's sample count.</summary>
    public IReadOnlyList<int> ClientSamples => _clientData.Select(d => d.Count).ToArray();

    /// <summary>
    /// Runs every round, reporting each to <paramref name="progress"/> as it ends and, if given, each client's end of
    /// local training to <paramref name="clientDone"/> as (round, clients done, clients sampled); the latter is called
    /// from worker threads.
    /// </summary>
    public SimulationResult Run(Action<RoundMetrics>? progress = null, CancellationToken cancellationToken = default, Action<int, int, int>? clientDone = null)
    {
        var initial = new SgdClassifier(Model, _root.Fork(StreamInit));
        var global = initial.GetParameters();
        var rounds = new List<RoundMetrics>(Options.Rounds);
        var samplingRoot = _root.Fork(StreamSampling);
        var trainingRoot = _root.Fork(StreamTraining);
        var craftingRoot = _root.Fork(StreamCrafting);
        var serverRoot = _root.Fork(StreamServer);
        var extensionRoot = _root.Fork(StreamExtensions);
        var backdoor = _behaviour?.Data as PixelPatternBackdoor;
        var dp = Privacy is { Distributed: null } ? CreateDpFedAvg() : null;
        bool distributed = Privacy is { Distributed: not null };
        var secAggRoot = _root.Fork(StreamSecAgg);
        for (int round = 1; round <= Options.Rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var participants = SampleClients(samplingRoot.Fork((ulong)round));
            var updates = TrainClients(round, participants, global, trainingRoot, clientDone, out double trainLoss);
            int maliciousInRound = participants.Count(c => _isMalicious[c]);
            PoisonUpdates(round, participants, updates, maliciousInRound, craftingRoot);
            for (int i = 0; i < participants.Length; i++)
            {
                foreach (var extension in _extensions)
                {
                    extension.OnClientUpdate(round, participants[i], updates[i], extensionRoot.Fork(Stream(round, participants[i])));
                }
            }

            bool[]? withinClip = null;
            if (dp is not null || distributed)
            {
                // DP-FedAvg with client-side clipping: honest clients clip to the server's C; attackers need not,
                // and the server clips and flags whatever arrives above C (central DP only: under distributed DP it sees only the sum).
                // With adaptive clipping each client also reports 1[‖Δ‖ ≤ C], taken before clipping (attackers report
                // the truth about what they send: lying about the bit is not modelled).
                double clipNorm = dp?.CurrentClipNorm ?? Privacy!.ClipNorm;
                withinClip = dp?.Options.AdaptiveClipping is null ? null : new bool[participants.Length];
                for (int i = 0; i < participants.Length; i++)
                {
                    withinClip?[i] = L2Clipping.Norm(updates[i]) <= clipNorm;
                    if (!Options.DpServerSideClipping && !_isMalicious[participants[i]] && TensorPrimitives.IsFiniteAll<float>(updates[i]))
                    {
                        DpFedAvg.ClipOnClient(updates[i], clipNorm);
                    }
                }
            }

            var flags = new List<ClientFlag>();
            var kept = new List<int>();
            for (int i = 0; i < participants.Length; i++)
            {
                if (TensorPrimitives.IsFiniteAll<float>(updates[i]))
                {
                    kept.Add(i);
                }
                else
                {
                    flags.Add(new ClientFlag(participants[i], _isMalicious[participants[i]], "update is not finite (local training diverged); excluded before aggregation"));
                }
            }

            var extra = new Dictionary<string, double>(StringComparer.Ordinal);
            if (distributed)
            {
                var aggregate = DistributedAggregate(round, participants, kept, updates, global.Length, secAggRoot.Fork((ulong)round), flags, extra);
                if (aggregate is not null)
                {
                    TensorPrimitives.Add(global.AsSpan(), aggregate, global.AsSpan());
                }
            }
            else if (Options.SecureAggregation)
            {
                var aggregate = SecureAggregate(round, participants, kept, updates, withinClip, global.Length, dp, secAggRoot.Fork((ulong)round), flags, extra);
                if (aggregate is not null)
                {
                    TensorPrimitives.Add(global.AsSpan(), aggregate, global.AsSpan());
                }

                if (dp is not null)
                {
                    extra["epsilon"] = dp.Ledger.Spent.Epsilon;
                }
            }
            else if (dp is not null)
            {
                // Every round is a release, even one where Poisson sampling picked nobody: a zero update stands in
                // for the empty sum, which changes nothing (the sum is divided by the expected m, not the count).
                // With adaptive clipping that stand-in also counts as one report "under C" (see CheckAdaptiveClipping).
                var inputs = kept.Count > 0 ? kept.Select(i => (ReadOnlyMemory<float>)updates[i]).ToList() : [new float[global.Length]];
                var bits = withinClip is null ? null : kept.Count > 0 ? kept.Select(i => withinClip[i]).ToArray() : [true];
                var result = dp.AggregateRound(dp.Ledger.NextRound, inputs, bits).Result;
                foreach (var flag in result.Flagged)
                {
                    int client = participants[kept[flag.Index]];
                    flags.Add(new ClientFlag(client, _isMalicious[client], flag.Reason));
                }

                extra["epsilon"] = dp.Ledger.Spent.Epsilon;
                TensorPrimitives.Add(global.AsSpan(), result.Aggregate, global.AsSpan());
            }
            else if (kept.Count > 0)
            {
                ReadOnlyMemory<float>? serverUpdate = _aggregator.NeedsServerUpdate
                    ? ServerUpdate(global, kept.Select(i => _clientData[participants[i]].Count).ToArray(), serverRoot.Fork((ulong)round))
                    : null;
                var aggregator = _aggregator.Create(kept.Count, serverUpdate);
                var inputs = kept.Select(i => (ReadOnlyMemory<float>)updates[i]).ToList();
                var weights = kept.Select(i => (double)_clientData[participants[i]].Count).ToArray();
                AggregationOutcome(aggregator, inputs, weights, round, out var aggregate, out var aggregatorFlags);
                foreach (var flag in aggregatorFlags)
                {
                    int client = participants[kept[flag.Index]];
                    flags.Add(new ClientFlag(client, _isMalicious[client], flag.Reason));
                }

                foreach (var extension in _extensions)
                {
                    foreach (var (key, value) in extension.OnAggregate(round, kept.Count, aggregate, extensionRoot.Fork(Stream(round, Options.Clients))))
                    {
                        extra[key] = value;
                    }
                }

                TensorPrimitives.Add(global.AsSpan(), aggregate, global.AsSpan());
            }

            if (dp?.Options.AdaptiveClipping is not null)
            {
                // The clip norm the next round will use.
                extra["clip_norm"] = dp.CurrentClipNorm;
            }

            flags.Sort((a, b) => a.Client.CompareTo(b.Client));
            var evaluator = Rent();
            evaluator.SetParameters(global);
            var evaluation = evaluator.Evaluate(Data.Test);
            double? asr = backdoor?.AttackSuccessRate(evaluator, Data.Test);
            Return(evaluator);
            clock.Stop();
            var metrics = new RoundMetrics(round, evaluation.Accuracy, evaluation.Loss, trainLoss, participants, maliciousInRound, flags, asr, clock.Elapsed.TotalSeconds, extra);
            rounds.Add(metrics);
            progress?.Invoke(metrics);
        }

        return new SimulationResult(
            Options, Model.Name, Model.Layout.TotalLength, Privacy is null ? _aggregator.Spec : distributed ? "distributed-dp-fedavg" : "dp-fedavg", _behaviour?.Name, MaliciousClients, ClientSamples,
            Data.Test.Count, rounds, _setupClock.Elapsed.TotalSeconds, Privacy);
    }

    private static FederatedDataset LoadData(SimulationOptions options, IRandomSource random)
    {
        switch (options.Dataset.ToLowerInvariant())
        {
            case "digits":
                return DatasetSplitter.Split(DigitsDataset.Load(), options.TestFraction, options.RootSize, random);
            case "fashion-mnist":
                var (train, test) = FashionMnistSource.Load(options.DataDirectory);
                return DatasetSplitter.WithRoot(train, test, options.RootSize, random);
            default:
                throw new ArgumentException($"Unknown data set '{options.Dataset}'; expected digits or fashion-mnist.");
        }
    }

    private static ulong Stream(int round, int client) => checked(((ulong)round << 32) | (uint)client);

    private void AggregationOutcome(Confide.Aggregation.IAggregator aggregator, List<ReadOnlyMemory<float>> inputs, double[] weights, int round, out float[] aggregate, out IReadOnlyList<Confide.Aggregation.FlaggedInput> flagged)
    {
        try
        {
            var result = aggregator.Aggregate(inputs, weights);
            aggregate = result.Aggregate;
            flagged = result.Flagged;
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Round {round}: {aggregator.Name} failed on {inputs.Count} updates: {ex.Message}", ex);
        }
    }

    private void DryRunAggregator(int perRound)
    {
        // Run the aggregator once on small random inputs, so that its own precondition checks (Krum's n > 2f + 2,
        // Bulyan's n ≥ 4f + 3, …) report a bad combination of options before any training.
        IRandomSource random = new SeededRandomSource(0);
        float[] Vector() => Enumerable.Range(0, 8).Select(_ => (float)(random.NextDouble() + 0.1)).ToArray();
        var inputs = Enumerable.Range(0, perRound).Select(_ => (ReadOnlyMemory<float>)Vector()).ToList();
        try
        {
            var aggregator = _aggregator.Create(perRound, _aggregator.NeedsServerUpdate ? Vector() : null);
            aggregator.Aggregate(inputs, Enumerable.Repeat(1.0, perRound).ToArray());
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException(
                $"--aggregator {Options.Aggregator} cannot run with {perRound} clients per round and f = {Byzantine}: {ex.Message.Split(" (Parameter", 2)[0]}", ex);
        }
    }

    /// <summary>
    /// Sums the kept updates through the in-process secure-aggregation protocol and returns the aggregate delta, or null
    /// when the round cannot be aggregated (fewer than two updates, and no DP noise to release).
    /// </summary>
    /// <remarks>
    /// Without DP each client quantizes its update with its sample count as weight (each coordinate clipped to
    /// [−c, c]) and the decoded sum is the weighted mean: FedAvg. With DP each honest client has clipped its update to
    /// L2 norm C, quantizes with weight 1 and c = C; the server decodes the sum, charges the ledger, adds N(0, z²C²) and
    /// divides by the expected m, as DP-FedAvg does. The server cannot see norms under SecAgg, so a malicious client's
    /// contribution is bounded only by the per-coordinate clip (C·√D in L2), not by C: bounding it needs proofs of norm
    /// that this simulation does not model.
    /// </remarks>
    private float[]? SecureAggregate(int round, int[] participants, List<int> kept, float[][] updates, bool[]? withinClip, int length, DpFedAvg? dp, IRandomSource random, List<ClientFlag> flags, Dictionary<string, double> extra)
    {
        int n = kept.Count;
        double[]? sum = null;
        long underClip = 0;
        if (n >= 2)
        {
            long[] weights = kept.Select(i => dp is null ? (long)_clientData[participants[i]].Count : 1L).ToArray();
            double clip = dp is null ? Options.SecAggClipRange : dp.CurrentClipNorm;
            var quantizer = new StochasticQuantizer(QuantizerOptions.WithLargestScale(clip, weights.Max(), n, 32));
            var inputs = new ulong[n][];
            for (int j = 0; j < n; j++)
            {
                // With adaptive clipping the client's bit rides in one extra coordinate of the secure sum.
                inputs[j] = withinClip is null
                    ? quantizer.Quantize(updates[kept[j]], weights[j], random.Fork((ulong)j + 1))
                    : ClipIndicatorEncoding.Quantize(quantizer, updates[kept[j]], weights[j], withinClip[kept[j]], random.Fork((ulong)j + 1));
            }

            int k = Math.Min(Options.Neighbours ?? n - 1, n - 1);
            if (k < n - 1 && k % 2 == 1 && n % 2 == 1)
            {
                // A k-regular Harary graph needs n·k even; Poisson sampling makes n vary, so step down to the even degree.
                k--;
            }

            var secAgg = new SecAggOptions(n, (k / 2) + 1, withinClip is null ? StochasticQuantizer.EncodedLength(length) : ClipIndicatorEncoding.EncodedLength(length), k, 32);
            var run = SecAggSimulation.Run(inputs, secAgg, SecAggDropouts.None, random.Fork(0));
            if (!run.Completed)
            {
                throw new InvalidOperationException($"Round {round}: secure aggregation aborted: {run.Error?.Message}");
            }

            extra["secagg_client_ms"] = run.ClientMilliseconds;
            extra["secagg_server_ms"] = run.ServerTotalMilliseconds;
            sum = new double[length];
            long total = withinClip is null
                ? quantizer.DequantizeSum(run.Result!.Sum, sum)
                : ClipIndicatorEncoding.DequantizeSum(quantizer, run.Result!.Sum, sum, out underClip);
            if (dp is null)
            {
                var mean = new float[length];
                for (int i = 0; i < length; i++)
                {
                    mean[i] = (float)(sum[i] / total);
                }

                return mean;
            }
        }
        else
        {
            foreach (int i in kept)
            {
                flags.Add(new ClientFlag(participants[i], _isMalicious[participants[i]], "not aggregated: secure aggregation needs at least 2 clients in a round"));
            }

            if (dp is null)
            {
                return null;
            }
        }

        // DP over the secure sum: charge first, then noise on the sum, then divide by the expected m (DP-FedAvg's estimator).
        var p = Privacy!;
        dp.Ledger.Charge(new PrivacyRelease(dp.Ledger.NextRound, "dp-fedavg+secagg", p.SampleRate, p.NoiseMultiplier));
        var noisy = new float[length];
        if (sum is not null)
        {
            for (int i = 0; i < length; i++)
            {
                noisy[i] = (float)sum[i];
            }
        }

        // z_Δ and this round's C (with a fixed C: z and C themselves); the count release below is what z_Δ > z pays for.
        new GaussianMechanism(dp.Options.UpdateNoiseMultiplier, dp.CurrentClipNorm).AddNoise(noisy, _secAggNoise!);
        TensorPrimitives.Multiply(noisy, (float)(1.0 / Options.ClientsPerRound), noisy);
        if (withinClip is not null)
        {
            // Only Σ bᵢ left the secure sum; every simulated client sends 0 or 1, so it lies in [0, n].
            dp.UpdateClipNorm((int)underClip, sum is null ? 0 : n);
        }

        return noisy;
    }

    private DpFedAvg CreateDpFedAvg()
    {
        var p = Privacy!;
        // No --dp-epsilon: the ledger still records ε, with no cap to enforce (a finite stand-in for "unbounded").
        var budget = new PrivacyBudget(p.TargetEpsilon is double e ? e * (1 + 1e-6) : 1e300, p.Delta);
        var placement = Options.DpServerSideClipping ? ClippingPlacement.Server : ClippingPlacement.Client;
        var options = Options.DpAdaptiveQuantile is double quantile
            ? DpFedAvgOptions.Adaptive(
                p.NoiseMultiplier,
                new AdaptiveClippingOptions(p.ClipNorm, quantile, Options.DpAdaptiveLearningRate ?? AdaptiveClippingOptions.DefaultLearningRate, Options.DpCountNoise ?? AdaptiveClippingOptions.DefaultCountNoise(Options.ClientsPerRound)),
                Options.ClientsPerRound,
                Options.Clients,
                placement)
            : DpFedAvgOptions.Fixed(p.NoiseMultiplier, p.ClipNorm, Options.ClientsPerRound, Options.Clients, placement);
        // Seeded noise keeps simulations reproducible; a deployment draws it from the CSPRNG.
        var noise = new GaussianNoise(_root.Fork(StreamNoise));
        _secAggNoise = noise;
        return new DpFedAvg(options, noise, new PrivacyLedger(budget));
    }

    /// <summary>
    /// Adaptive clipping and server-side clipping need central DP-FedAvg; server-side clipping needs the server to see
    /// the updates, so not under secure aggregation.
    /// </summary>
    /// <remarks>
    /// One approximation: a round where Poisson sampling picked nobody aggregates a zero stand-in update (see
    /// <see cref="Run"/>), which with adaptive clipping also counts as one report under C, so such a round's count is
    /// one higher than the paper's (rare when m is not tiny).
    /// </remarks>
    private static void CheckAdaptiveClipping(SimulationOptions options)
    {
        if (options.DpAdaptiveQuantile is not null && !options.DifferentialPrivacy)
        {
            throw new ArgumentException("--dp-adaptive-quantile adapts the DP clip norm: it needs DP on (--dp-epsilon or --dp-noise).");
        }

        if (options.DpAdaptiveQuantile is not null && options.DpPlacement == DpPlacement.Distributed)
        {
            throw new ArgumentException("--dp-adaptive-quantile works with central DP only: adaptive clipping is not combined with --dp-mode distributed yet.");
        }

        if (options.DpAdaptiveQuantile is null && (options.DpCountNoise is not null || options.DpAdaptiveLearningRate is not null))
        {
            throw new ArgumentException("--dp-adaptive-lr and --dp-count-noise apply to adaptive clipping only: give --dp-adaptive-quantile.");
        }

        if (options.DpServerSideClipping && (!options.DifferentialPrivacy || options.SecureAggregation))
        {
            throw new ArgumentException("--dp-server-clip needs central DP without secure aggregation: under --secure-agg the server never sees an update to clip.");
        }
    }

    private int[] SampleClients(IRandomSource random)
    {
        int k = Options.ClientsPerRound;
        if (k == Options.Clients)
        {
            return Enumerable.Range(0, k).ToArray();
        }

        if (Privacy is not null)
        {
            // The DP accountant assumes Poisson sampling: each client joins independently with probability q = m/N.
            return Enumerable.Range(0, Options.Clients).Where(_ => random.NextDouble() < Privacy.SampleRate).ToArray();
        }

        return DatasetSplitter.Permutation(Options.Clients, random)[..k].Order().ToArray();
    }

    private float[][] TrainClients(int round, int[] participants, ModelParameters global, IRandomSource trainingRoot, Action<int, int, int>? clientDone, out double meanBenignLoss)
    {
        int done = 0;
        var updates = new float[participants.Length][];
        var losses = new double[participants.Length];
        var sources = participants.Select(c => trainingRoot.Fork(Stream(round, c))).ToArray();
        Parallel.For(0, participants.Length, new ParallelOptions { MaxDegreeOfParallelism = Options.Parallelism }, i =>
        {
            int client = participants[i];
            losses[i] = double.NaN;
            if (_isMalicious[client] && _behaviour is { Trains: false })
            {
                updates[i] = new float[global.Length];
                clientDone?.Invoke(round, Interlocked.Increment(ref done), participants.Length);
                return;
            }

            var classifier = Rent();
            classifier.SetParameters(global);
            var data = _poisoned[client] ?? _clientData[client];
            var report = classifier.Train(data, _clientTraining, sources[i]);
            var update = classifier.GetParameters().AsSpan().ToArray();
            Return(classifier);
            TensorPrimitives.Subtract(update, global.AsSpan(), update);
            updates[i] = update;
            if (!_isMalicious[client])
            {
                losses[i] = report.MeanLoss;
            }

            clientDone?.Invoke(round, Interlocked.Increment(ref done), participants.Length);
        });

        var benign = losses.Where(double.IsFinite).ToArray();
        meanBenignLoss = benign.Length > 0 ? benign.Average() : double.NaN;
        return updates;
    }

    private void PoisonUpdates(int round, int[] participants, float[][] updates, int maliciousInRound, IRandomSource craftingRoot)
    {
        if (_behaviour?.Model is not { } attack || maliciousInRound == 0)
        {
            return;
        }

        var benign = attack.UsesBenignUpdates
            ? participants.Select((c, i) => (c, i)).Where(p => !_isMalicious[p.c] && TensorPrimitives.IsFiniteAll<float>(updates[p.i])).Select(p => (ReadOnlyMemory<float>)updates[p.i]).ToList()
            : [];
        if (attack.UsesBenignUpdates && benign.Count == 0)
        {
            // Every sampled client is an attacker: there is nothing to collude against, and the attackers (which did
            // not train) send zero updates this round.
            return;
        }

        var crafted = new List<(int Index, float[] Update)>();
        for (int i = 0; i < participants.Length; i++)
        {
            int client = participants[i];
            if (!_isMalicious[client])
            {
                continue;
            }

            var context = new ModelPoisoningContext(
                updates[i].Length, attack.UsesOwnUpdate ? updates[i] : null, benign, participants.Length, maliciousInRound, craftingRoot.Fork(Stream(round, client)));
            crafted.Add((i, attack.Craft(context)));
        }

        // Replace only after all are crafted, so no attacker sees another's crafted vector as "benign".
        foreach (var (index, update) in crafted)
        {
            updates[index] = update;
        }
    }

    // FLTrust's g₀: the same local SGD as the clients (rate, batch, momentum), for exactly as many steps as the
    // median participant takes (Cao et al. 2021, Algorithm 1: R local iterations for server and clients alike).
    private float[] ServerUpdate(ModelParameters global, int[] participantSamples, IRandomSource random)
    {
        var classifier = Rent();
        classifier.SetParameters(global);
        var training = Options.Training with
        {
            Epochs = RootTrainingSchedule.RootEpochs(Data.Root.Count, participantSamples, Options.Training),
            MaxSteps = RootTrainingSchedule.RootSteps(participantSamples, Options.Training),
        };
        classifier.Train(Data.Root, training, random);
        var update = classifier.GetParameters().AsSpan().ToArray();
        Return(classifier);
        TensorPrimitives.Subtract(update, global.AsSpan(), update);
        return update;
    }

    private SgdClassifier Rent() => _pool.TryTake(out var c) ? c : new SgdClassifier(Model, new SeededRandomSource(0));

    private void Return(SgdClassifier classifier) => _pool.Add(classifier);
}
