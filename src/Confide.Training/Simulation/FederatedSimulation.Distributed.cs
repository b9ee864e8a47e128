using System.Numerics;
using Confide.Privacy;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Training.Internal;

namespace Confide.Training.Simulation;

/// <summary>Distributed DP under secure aggregation (<see cref="DpPlacement.Distributed"/>).</summary>
public sealed partial class FederatedSimulation
{
    private const string DistributedMechanism = "distributed-dp+secagg";
    private const int DistributedModulusBits = 32;

    /// <summary>Samples beyond this many σ are possible but so rare (below 10⁻³¹ each) that the quantizer reserves no room for them.</summary>
    private const double DistributedNoiseHeadroomSigmas = 12;

    private StochasticQuantizer? _ddpQuantizer;
    private DiscreteGaussian? _ddpSampler;
    private PrivacyLedger? _ddpLedger;

    /// <summary>
    /// Chooses the quantizer scale and each client's discrete Gaussian for distributed DP (Kairouz, Liu, Steinke 2021):
    /// the largest power-of-two scale s for which N clients' clipped updates plus 12σ of noise each fit the signed range of
    /// Z_{2^32}, and σ (quanta) calibrated with <see cref="DistributedNoiseCalibration"/> for the run's (ε, δ), or set
    /// from a given z as σ = z·Δ₂/√n_min.
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
        double limit = Math.Pow(2, DistributedModulusBits - 1) - 1;
        double scale = Math.Pow(2, Math.Floor(Math.Log2(((limit / options.Clients) - 1) / clip)));
        while (true)
        {
            if (scale * clip < 1)
            {
                throw new ArgumentException(
                    $"Distributed DP cannot fit {options.Clients} clients' noisy updates in Z_2^{DistributedModulusBits} with at least one quantum per clip norm; use fewer clients, more noise-free headroom (a larger ε) or central DP.");
            }

            double l2 = DistributedDiscreteGaussian.RoundedL2Bound(clip * scale, dimension, beta);
            double sigma = options.DpEpsilon is double epsilon
                ? DistributedNoiseCalibration.CalibrateClientSigma(epsilon, options.DpDelta, sampleRate, options.Rounds, minimum, clip, scale, dimension, beta)
                : options.DpNoiseMultiplier!.Value * l2 / Math.Sqrt(minimum);
            if (!(sigma > 0) || !double.IsFinite(sigma) || sigma > 1e9)
            {
                throw new ArgumentException($"The distributed noise σ = {sigma:G4} quanta is not usable; give a positive finite --dp-noise or --dp-epsilon.");
            }

            // σ² rounded up to an integer: a little more noise than calibrated, and the sampler's exact fast path.
            var variance = new BigInteger(Math.Ceiling(sigma * sigma));
            double actualSigma = Math.Sqrt((double)variance);
            long headroom = (long)Math.Ceiling(DistributedNoiseHeadroomSigmas * actualSigma);
            if (options.Clients * (Math.Ceiling(clip * scale) + headroom) <= limit)
            {
                _ddpQuantizer = new StochasticQuantizer(new QuantizerOptions(clip, scale, 1, options.Clients, DistributedModulusBits, headroom));
                _ddpSampler = DiscreteGaussian.FromVariance(variance, BigInteger.One);
                var settings = new DistributedDpSettings(scale, DistributedModulusBits, actualSigma, minimum, beta, l2, DistributedDiscreteGaussian.RoundedL1Bound(l2, dimension), dimension);
                var budget = new PrivacyBudget(options.DpEpsilon is double e ? e * (1 + 1e-6) : 1e300, options.DpDelta);
                _ddpLedger = new PrivacyLedger(budget);
                double z = Math.Sqrt(minimum) * actualSigma / l2;
                return new PrivacySettings(z, clip, sampleRate, options.DpDelta, options.DpEpsilon, settings);
            }

            scale /= 2;
        }
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
        var settings = Privacy!.Distributed!;
        var quantizer = _ddpQuantizer!;
        var sampler = _ddpSampler!;
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

        double maxSquaredNorm = settings.L2Sensitivity * settings.L2Sensitivity;
        var inputs = new ulong[n][];
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Options.Parallelism }, j =>
        {
            int client = participants[kept[j]];
            try
            {
                inputs[j] = DistributedDpEncoder.Encode(quantizer, updates[kept[j]], sampler, _isMalicious[client] ? double.PositiveInfinity : maxSquaredNorm, random.Fork((ulong)j + 1));
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
        int shares = Math.Min(survivors, settings.MinimumSurvivors);
        extra["noise_shares"] = shares;
        var entry = new DistributedDiscreteGaussianSteps(Privacy.SampleRate, settings.L2Sensitivity, settings.L1Sensitivity, settings.ClientSigma, shares, settings.Dimension);
        if (!ledger.TryCharge([new PrivacyRelease(ledger.NextRound, DistributedMechanism, entry)], out var after))
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
        quantizer.DequantizeSum(run.Result.Sum, sum);
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
