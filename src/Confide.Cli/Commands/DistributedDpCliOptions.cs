using System.CommandLine;
using Confide.Privacy;

namespace Confide.Cli.Commands;

/// <summary>
/// The <c>confide server</c> options of distributed DP under secure aggregation (Kairouz, Liu, Steinke 2021), named as in
/// <c>confide simulate</c>: each client adds its own discrete Gaussian noise before masking, so the server never holds
/// an un-noised sum.
/// </summary>
internal sealed class DistributedDpCliOptions
{
    private readonly Option<string> _mode = new("--dp-mode")
    {
        Description = "Where DP noise is added under --secure-agg: central (the server noises the unmasked sum and must be trusted) or distributed "
            + "(each client adds discrete Gaussian noise before masking, Kairouz et al. 2021; with --dp-noise z the noise matches z, otherwise it is calibrated to --epsilon over --rounds).",
        DefaultValueFactory = _ => "central",
    };

    private readonly Option<int?> _minSurvivors = new("--dp-min-survivors")
    {
        Description = "With --dp-mode distributed: the fewest surviving clients the noise is calibrated for (default: --min-updates). A round with fewer fails and nothing is charged; clients refuse to unmask it.",
    };

    private DistributedDpCliOptions()
    {
    }

    /// <summary>Registers the options on <paramref name="command"/>.</summary>
    public static DistributedDpCliOptions AddTo(Command command)
    {
        var options = new DistributedDpCliOptions();
        command.Options.Add(options._mode);
        command.Options.Add(options._minSurvivors);
        return options;
    }

    /// <summary>True for <c>--dp-mode distributed</c>; refuses an unknown mode and the combinations that cannot work.</summary>
    public bool IsDistributed(ParseResult parse, bool secureAggregation, bool adaptiveClipping)
    {
        bool distributed = parse.GetValue(_mode) switch
        {
            "central" => false,
            "distributed" => true,
            var other => throw new CliException($"--dp-mode must be central or distributed; got '{other}'.", 2),
        };
        if (!distributed)
        {
            return parse.GetValue(_minSurvivors) is null ? false : throw new CliException("--dp-min-survivors applies to --dp-mode distributed only: central DP noises the sum once, whoever survives.", 2);
        }

        if (!secureAggregation)
        {
            throw new CliException("--dp-mode distributed adds each client's noise before secure-aggregation masking; it needs --secure-agg.", 2);
        }

        if (adaptiveClipping)
        {
            throw new CliException("--dp-mode distributed cannot be combined with --dp-adaptive-quantile yet: the clients' noise is calibrated for a fixed clip norm (use --dp-clip).", 2);
        }

        return true;
    }

    /// <summary>
    /// The plan for a run of <paramref name="rounds"/> rounds of <paramref name="clientsPerRound"/> clients from
    /// <paramref name="population"/>: σ from z when given, else calibrated to (ε, δ) with a hair of slack so the last
    /// round's charge, composed in the ledger, stays within the budget.
    /// </summary>
    public DistributedDpPlan Plan(ParseResult parse, double? noiseMultiplier, double clipNorm, int clientsPerRound, long population, int minUpdates, double epsilon, double delta, long rounds, int modulusBits, int dimension)
    {
        int minimum = parse.GetValue(_minSurvivors) ?? minUpdates;
        if (minimum < 2 || minimum > clientsPerRound)
        {
            throw new CliException($"--dp-min-survivors {minimum} is out of range: secure aggregation needs at least 2 survivors, and a round has {clientsPerRound} clients.", 2);
        }

        double beta = DistributedDpPlan.DefaultRoundingBeta;
        return noiseMultiplier is double z
            ? DistributedDpPlan.ForNoiseMultiplier(clipNorm, clientsPerRound, minimum, dimension, modulusBits, beta, z)
            : DistributedDpPlan.ForTargetEpsilon(clipNorm, clientsPerRound, minimum, dimension, modulusBits, beta, epsilon * (1 - 1e-6), delta, (double)clientsPerRound / population, rounds);
    }
}
