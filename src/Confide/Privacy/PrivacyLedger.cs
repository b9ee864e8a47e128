using System.Text.Json;
using System.Text.Json.Serialization;
using Confide.Privacy.Internal;

namespace Confide.Privacy;

/// <summary>
/// The record of every DP release in a run and the guard of its (ε_max, δ) budget. A charge composes the release's RDP
/// with everything recorded so far (<see cref="RdpAccountant"/>) and is refused, with nothing recorded, when ε would pass
/// ε_max. Charge before drawing any noise: a refused round then releases nothing.
/// </summary>
/// <remarks>
/// The ledger keeps the running RDP curve, so a charge costs one RDP evaluation at each order whatever the history's length.
/// It saves to and loads from JSON through a caller's stream. Not thread-safe: one ledger per run, charged by one thread.
/// </remarks>
public sealed class PrivacyLedger
{
    private const string FormatName = "confide.privacy-ledger";
    private const int FormatVersion = 1;

    // Version 2 adds distributed discrete Gaussian releases; a ledger without them is still written as version 1.
    private const int DistributedFormatVersion = 2;
    private const string DistributedKind = "distributed-discrete-gaussian";

    private readonly double[] _orders;
    private readonly double[] _rdp;
    private readonly List<PrivacyRelease> _releases = [];

    /// <summary>Creates an empty ledger for <paramref name="budget"/>, tracking <paramref name="orders"/> (default: Opacus's).</summary>
    public PrivacyLedger(PrivacyBudget budget, IEnumerable<double>? orders = null)
    {
        ArgumentNullException.ThrowIfNull(budget);
        Budget = budget;
        _orders = [.. orders ?? RdpAccountant.DefaultOrders];
        _rdp = RdpAccountant.ComputeRdp([], _orders); // validates the orders; all zeros
    }

    /// <summary>The budget this ledger defends.</summary>
    public PrivacyBudget Budget { get; }

    /// <summary>The Rényi orders tracked.</summary>
    public IReadOnlyList<double> Orders => _orders;

    /// <summary>Every release charged so far, in order.</summary>
    public IReadOnlyList<PrivacyRelease> Releases => _releases;

    /// <summary>The ε spent so far at the budget's δ, with its best order.</summary>
    public PrivacySpent Spent => RdpAccountant.GetPrivacySpent(_orders, _rdp, Budget.Delta);

    /// <summary>The ε left before the budget is exhausted (never negative).</summary>
    public double RemainingEpsilon => Math.Max(0, Budget.MaxEpsilon - Spent.Epsilon);

    /// <summary>The round after the last recorded one (0 for an empty ledger).</summary>
    public long NextRound => _releases.Count == 0 ? 0 : _releases[^1].Round + 1;

    /// <summary>What ε would be after <paramref name="releases"/>, without charging them.</summary>
    public PrivacySpent Preview(params IReadOnlyList<PrivacyRelease> releases) =>
        RdpAccountant.GetPrivacySpent(_orders, Compose(releases), Budget.Delta);

    /// <summary>Charges <paramref name="releases"/> (one round's releases) together, or none of them.</summary>
    /// <returns>The ε spent after the charge.</returns>
    /// <exception cref="PrivacyBudgetExceededException">The releases would push ε past ε_max; nothing was charged.</exception>
    /// <exception cref="ArgumentException">A release's round is earlier than the last recorded round.</exception>
    public PrivacySpent Charge(params IReadOnlyList<PrivacyRelease> releases)
    {
        if (!TryCharge(releases, out var before, out var after))
        {
            throw new PrivacyBudgetExceededException(before.Epsilon, after.Epsilon, Budget, releases);
        }

        return after;
    }

    /// <summary>Charges the releases if they fit in the budget.</summary>
    /// <param name="releases">One round's releases.</param>
    /// <param name="after">The ε the ledger has (if charged) or would have had (if refused) with the releases.</param>
    /// <returns>Whether the releases were charged.</returns>
    public bool TryCharge(IReadOnlyList<PrivacyRelease> releases, out PrivacySpent after) => TryCharge(releases, out _, out after);

    private bool TryCharge(IReadOnlyList<PrivacyRelease> releases, out PrivacySpent before, out PrivacySpent after)
    {
        double[] candidate = Compose(releases);
        long last = _releases.Count == 0 ? 0 : _releases[^1].Round;
        foreach (var r in releases)
        {
            if (r.Round < last)
            {
                throw new ArgumentException($"Release for round {r.Round} comes after round {last}; rounds must not go backwards.", nameof(releases));
            }

            last = r.Round;
        }

        before = Spent;
        after = RdpAccountant.GetPrivacySpent(_orders, candidate, Budget.Delta);
        if (after.Epsilon > Budget.MaxEpsilon)
        {
            return false;
        }

        candidate.CopyTo(_rdp, 0);
        _releases.AddRange(releases);
        return true;
    }

    private double[] Compose(IReadOnlyList<PrivacyRelease> releases)
    {
        ArgumentNullException.ThrowIfNull(releases);
        if (releases.Count == 0)
        {
            throw new ArgumentException("At least one release is needed.", nameof(releases));
        }

        var step = (double[])_rdp.Clone();
        foreach (var r in releases)
        {
            ArgumentNullException.ThrowIfNull(r, nameof(releases));
            r.AddRdp(_orders, step);
        }

        return step;
    }

    /// <summary>Writes the ledger (budget, orders and every release) as JSON to <paramref name="stream"/>.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var dto = new LedgerDto
        {
            Format = FormatName,
            Version = _releases.Any(r => r.Distributed is not null) ? DistributedFormatVersion : FormatVersion,
            MaxEpsilon = Budget.MaxEpsilon,
            Delta = Budget.Delta,
            Orders = _orders,
            Releases = [.. _releases.Select(ToDto)],
        };
        JsonSerializer.Serialize(stream, dto, LedgerJsonContext.Default.LedgerDto);
    }

    /// <summary>Reads a ledger written by <see cref="Save"/>, re-validating every field and recomputing the RDP curve.</summary>
    /// <exception cref="InvalidDataException">The stream is not a ledger of this format, or a field is out of range.</exception>
    public static PrivacyLedger Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        LedgerDto? dto;
        try
        {
            dto = JsonSerializer.Deserialize(stream, LedgerJsonContext.Default.LedgerDto);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The privacy ledger is not valid JSON: {ex.Message}", ex);
        }

        if (dto is null || dto.Format != FormatName)
        {
            throw new InvalidDataException($"The stream is not a privacy ledger (expected format \"{FormatName}\", got \"{dto?.Format}\").");
        }

        if (dto.Version != FormatVersion && dto.Version != DistributedFormatVersion)
        {
            throw new InvalidDataException($"Privacy ledger version {dto.Version} is not supported; expected {FormatVersion} or {DistributedFormatVersion}.");
        }

        try
        {
            var ledger = new PrivacyLedger(new PrivacyBudget(dto.MaxEpsilon, dto.Delta), dto.Orders ?? throw new InvalidDataException("The privacy ledger has no orders."));
            var releases = (dto.Releases ?? []).Select(r => FromDto(r, dto.Version)).ToList();
            long last = 0;
            foreach (var r in releases)
            {
                if (r.Round < last)
                {
                    throw new InvalidDataException($"The privacy ledger's rounds go backwards ({last} then {r.Round}).");
                }

                last = r.Round;
            }

            // A loaded ledger records what happened even if the budget was later lowered; it just refuses further charges.
            if (releases.Count > 0)
            {
                foreach (var r in releases)
                {
                    r.AddRdp(ledger._orders, ledger._rdp);
                }

                ledger._releases.AddRange(releases);
            }

            return ledger;
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"The privacy ledger has an invalid field: {ex.Message}", ex);
        }
    }

    private static ReleaseDto ToDto(PrivacyRelease r) => r.Distributed is { } d
        ? new ReleaseDto
        {
            Round = r.Round, Mechanism = r.Mechanism, Kind = DistributedKind, SampleRate = d.SampleRate, Steps = d.Steps,
            L2Sensitivity = d.L2Sensitivity, L1Sensitivity = d.L1Sensitivity, ClientSigma = d.ClientSigma, NoiseShares = d.NoiseShares, Dimension = d.Dimension,
        }
        : new ReleaseDto { Round = r.Round, Mechanism = r.Mechanism, SampleRate = r.SampleRate, NoiseMultiplier = r.NoiseMultiplier, Steps = r.Steps };

    private static PrivacyRelease FromDto(ReleaseDto r, int version)
    {
        if (r.Kind is null)
        {
            return new PrivacyRelease(r.Round, r.Mechanism ?? string.Empty, r.SampleRate, r.NoiseMultiplier ?? 0, r.Steps);
        }

        if (r.Kind != DistributedKind || version < DistributedFormatVersion)
        {
            throw new InvalidDataException($"Release kind \"{r.Kind}\" is not known in ledger version {version}; expected none (subsampled Gaussian) or \"{DistributedKind}\" (version {DistributedFormatVersion}).");
        }

        var entry = new DistributedDiscreteGaussianSteps(
            r.SampleRate, r.L2Sensitivity ?? 0, r.L1Sensitivity ?? 0, r.ClientSigma ?? 0, r.NoiseShares ?? 0, r.Dimension ?? 0, r.Steps);
        return new PrivacyRelease(r.Round, r.Mechanism ?? string.Empty, entry);
    }

    internal sealed class LedgerDto
    {
        [JsonPropertyName("format")]
        public string? Format { get; set; }

        [JsonPropertyName("version")]
        public int Version { get; set; }

        [JsonPropertyName("max_epsilon")]
        public double MaxEpsilon { get; set; }

        [JsonPropertyName("delta")]
        public double Delta { get; set; }

        [JsonPropertyName("orders")]
        public double[]? Orders { get; set; }

        [JsonPropertyName("releases")]
        public ReleaseDto[]? Releases { get; set; }
    }

    internal sealed class ReleaseDto
    {
        [JsonPropertyName("round")]
        public long Round { get; set; }

        [JsonPropertyName("mechanism")]
        public string? Mechanism { get; set; }

        [JsonPropertyName("kind")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Kind { get; set; }

        [JsonPropertyName("sample_rate")]
        public double SampleRate { get; set; }

        [JsonPropertyName("noise_multiplier")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public double? NoiseMultiplier { get; set; }

        [JsonPropertyName("steps")]
        public long Steps { get; set; }

        [JsonPropertyName("l2_sensitivity")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public double? L2Sensitivity { get; set; }

        [JsonPropertyName("l1_sensitivity")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public double? L1Sensitivity { get; set; }

        [JsonPropertyName("client_sigma")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public double? ClientSigma { get; set; }

        [JsonPropertyName("noise_shares")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public int? NoiseShares { get; set; }

        [JsonPropertyName("dimension")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public int? Dimension { get; set; }
    }
}
