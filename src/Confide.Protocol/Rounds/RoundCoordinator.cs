using Confide.Aggregation;
using Confide.Aggregation.Optimizers;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Randomness;
using Confide.Time;
using Confide.Updates;

namespace Confide.Protocol.Rounds;

/// <summary>
/// The server side of the federated round lifecycle (McMahan et al. 2017, "Communication-Efficient Learning of Deep
/// Networks from Decentralized Data", Algorithm 1, with the deadline and minimum-update rules of Bonawitz et al. 2019,
/// "Towards Federated Learning at Scale"), as a sans-IO state machine: sample from the connected clients, collect
/// updates until everyone answered or the deadline passed, validate each update, aggregate, apply the server
/// optimiser, charge the privacy ledger (before any noise is drawn), and stop after the configured rounds or when the
/// next charge would exceed the budget. Time comes from an injected clock and sampling from an injected random source.
/// </summary>
/// <remarks>
/// Not thread-safe: the host serialises calls. The host persists each <see cref="RoundResult"/>; the coordinator can be
/// rebuilt from the last completed round (<c>completedRounds</c>, the model, the ledger) and a collecting round can be
/// restored with <see cref="Restore"/>. A round with fewer than <see cref="RoundOptions.MinUpdates"/> accepted updates
/// fails: it is recorded, the model is unchanged, nothing is charged, and the run moves to the next round number.
/// The server optimiser is <see cref="RoundOptions.ServerOptimizer"/> (server SGD, FedAvgM, FedAdam, FedYogi,
/// FedAdagrad); its state and the adaptive clip norm (Andrew et al. 2021) are what <see cref="ExportServerState"/>
/// returns for the host to persist, and <see cref="RestoreServerState"/> takes back.
/// <para>Adaptive clipping with client-side clipping: each client reports bᵢ = 1[‖Δᵢ‖ ≤ C] for the round's C
/// (<see cref="ClientClipNorm"/>). In plain rounds the bit comes with the update (<see cref="Submit(long, ClientUpdate, long?)"/>;
/// an update without it, or with a value other than 0 or 1, is rejected with the reason); under secure aggregation
/// only Σ bᵢ is known (<see cref="SecureRoundOutcome.ClipIndicatorSum"/>). Either way the count gets the noise
/// N(0, σ_b²) and C moves as in <see cref="DpFedAvg"/>.</para>
/// </remarks>
public sealed class RoundCoordinator
{
    private readonly IRandomSource _random;
    private readonly ISystemClock _clock;
    private readonly UpdateValidator _validator;
    private readonly ICheckpointableServerOptimizer _optimizer;
    private readonly DpFedAvg? _dp;
    private readonly IGaussianNoise? _noise;
    private readonly ModelParameters _model;
    private readonly StreamingFedAvg? _fedAvg;
    private readonly DpFedAvgSum? _dpSum;

    /// <summary>The accepted clients' sample counts.</summary>
    private readonly Dictionary<string, long> _accepted = new(StringComparer.Ordinal);

    /// <summary>The accepted updates themselves, kept only when the aggregator needs them all at once (see <see cref="RetainsUpdates"/>).</summary>
    private readonly Dictionary<string, ClientUpdate> _retained = new(StringComparer.Ordinal);

    /// <summary>The accepted clients in the order their updates went into the running sum, which its flags refer to.</summary>
    private readonly List<string> _sumOrder = [];
    private readonly List<RejectedUpdate> _rejected = [];
    private readonly HashSet<string> _participants = new(StringComparer.Ordinal);
    private RoundTicket? _current;
    private int _arrivals;
    private bool _started;

    /// <summary>Creates a coordinator.</summary>
    /// <param name="options">The run's settings.</param>
    /// <param name="globalModel">The global model after <paramref name="completedRounds"/> rounds (copied).</param>
    /// <param name="completedRounds">Rounds already completed (0 for a fresh run); the next round has this number.</param>
    /// <param name="ledger">The privacy ledger (required with DP, charged each aggregated round), or null.</param>
    /// <param name="noise">The Gaussian noise source (required with DP; a CSPRNG-backed one in production).</param>
    /// <param name="random">The random source used for sampling clients.</param>
    /// <param name="clock">The clock used for deadlines.</param>
    public RoundCoordinator(
        RoundOptions options,
        ModelParameters globalModel,
        long completedRounds,
        PrivacyLedger? ledger,
        IGaussianNoise? noise,
        IRandomSource random,
        ISystemClock clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(globalModel);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfNegative(completedRounds);
        Options = options;
        _random = random;
        _clock = clock;
        _model = globalModel.Clone();
        _optimizer = options.ServerOptimizer.Create();
        _validator = new UpdateValidator(new UpdateValidationOptions(globalModel.Layout, options.MaxSampleCount, options.MaxUpdateNorm));
        Ledger = ledger;
        _noise = noise;
        if (options.Privacy is not null)
        {
            if (ledger is null || noise is null)
            {
                throw new ArgumentException("DP-FedAvg is configured, so a privacy ledger and a noise source are required.", nameof(ledger));
            }

            _dp = new DpFedAvg(options.Privacy, noise, ledger);
            _dpSum = _dp.StartSum(globalModel.Layout.TotalLength);
        }
        else
        {
            Aggregator = AggregatorCatalog.Create(options.Aggregator);
            if (Aggregator is FedAvg)
            {
                _fedAvg = new StreamingFedAvg(globalModel.Layout.TotalLength);
            }
        }

        Round = completedRounds;
        Stage = RoundStage.WaitingForClients;
        CheckStop();
    }

    /// <summary>The settings.</summary>
    public RoundOptions Options { get; }

    /// <summary>The privacy ledger, or null without DP.</summary>
    public PrivacyLedger? Ledger { get; }

    /// <summary>The aggregator when DP is off.</summary>
    public IAggregator? Aggregator { get; }

    /// <summary>The current round while collecting, else the next round to run.</summary>
    public long Round { get; private set; }

    /// <summary>The stage.</summary>
    public RoundStage Stage { get; private set; }

    /// <summary>Why the run stopped, once <see cref="Stage"/> is <see cref="RoundStage.Finished"/>.</summary>
    public StopReason? StopReason { get; private set; }

    /// <summary>The collecting round, or null.</summary>
    public RoundTicket? Current => _current;

    /// <summary>Updates accepted so far in the collecting round.</summary>
    public int AcceptedCount => _accepted.Count;

    /// <summary>The layout every update must have.</summary>
    public ParameterLayout Layout => _model.Layout;

    /// <summary>
    /// True when the coordinator keeps a reference to each accepted update's delta until its round completes: robust
    /// aggregators and anomaly detection need every update at once. False for FedAvg and DP-FedAvg, whose updates go
    /// into a running sum as they are accepted; the caller may then reuse an update's array as soon as
    /// <see cref="Submit(long, ClientUpdate, long?)"/> returns.
    /// </summary>
    public bool RetainsUpdates => _fedAvg is null && _dpSum is null;

    /// <summary>The clip norm clients use under client-side DP clipping, else null.</summary>
    public double? ClientClipNorm => _dp is not null && _dp.Options.Placement == ClippingPlacement.Client ? _dp.CurrentClipNorm : null;

    /// <summary>
    /// True when every update must carry its client's clip indicator bᵢ = 1[‖Δᵢ‖ ≤ C]: adaptive clipping with
    /// client-side clipping (the server never sees the pre-clip norm).
    /// </summary>
    public bool RequiresClipIndicator => _dp is { Options: { AdaptiveClipping: not null, Placement: ClippingPlacement.Client } };

    /// <summary>A copy of the current global model.</summary>
    public ModelParameters GlobalModel => _model.Clone();

    /// <summary>The state to persist with each completed round (see <see cref="RoundServerState"/>).</summary>
    public RoundServerState ExportServerState() =>
        new(_optimizer.ExportState(), _dp is not null && _dp.Options.AdaptiveClipping is not null ? _dp.CurrentClipNorm : null);

    /// <summary>
    /// Restores the state saved with the last completed round, before any round is started or restored, so that the run
    /// continues exactly as if it had not stopped.
    /// </summary>
    /// <exception cref="InvalidOperationException">A round was already started or restored.</exception>
    /// <exception cref="ArgumentException">The state was saved by another optimiser, or with adaptive clipping when it is not configured.</exception>
    public void RestoreServerState(RoundServerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (_started)
        {
            throw new InvalidOperationException("The server state can only be restored before the first round starts.");
        }

        if (state.ClipNorm is double clip)
        {
            if (_dp is null || _dp.Options.AdaptiveClipping is null)
            {
                throw new ArgumentException("The saved state has an adaptive clip norm, but adaptive clipping is not configured; the run was started with other DP settings.", nameof(state));
            }

            _dp.RestoreClipNorm(clip);
        }

        _optimizer.ImportState(state.Optimizer);
    }

    /// <summary>True when <paramref name="clientId"/> was sampled into the collecting round.</summary>
    public bool IsParticipant(string clientId) => _current is not null && _participants.Contains(clientId);

    /// <summary>True when <paramref name="clientId"/> has already submitted (accepted or rejected) in the collecting round.</summary>
    public bool HasSubmitted(string clientId) =>
        _current is not null && (_accepted.ContainsKey(clientId) || _rejected.Exists(r => r.ClientId == clientId));

    /// <summary>
    /// Starts the next round if none is running and enough clients are connected: samples uniformly without replacement
    /// from <paramref name="connectedClients"/>. Returns the new round, or null (still waiting, already collecting, or finished).
    /// </summary>
    public RoundTicket? TryStartRound(IReadOnlyCollection<string> connectedClients)
    {
        ArgumentNullException.ThrowIfNull(connectedClients);
        if (Stage != RoundStage.WaitingForClients)
        {
            return null;
        }

        // Sort first so that the draw depends only on the set and the random source, not on the caller's order.
        var pool = connectedClients.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        int k = Options.Sampling.SampleSize(pool.Length);
        if (k == 0 || k < Options.MinUpdates)
        {
            return null;
        }

        // Partial Fisher–Yates shuffle: the first k entries are a uniform sample.
        for (int i = 0; i < k; i++)
        {
            int j = i + _random.NextInt32(pool.Length - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }

        var participants = pool[..k].Order(StringComparer.Ordinal).ToArray();
        var now = _clock.UtcNow;
        Begin(new RoundTicket(Round, participants, now, now + Options.CollectTimeout));
        return _current;
    }

    /// <summary>
    /// Restores a collecting round after a restart: its ticket and the updates already accepted and rejected (as
    /// persisted by the host), and with <see cref="RequiresClipIndicator"/> each accepted client's clip indicator. The
    /// deadline is kept as it was.
    /// </summary>
    public void Restore(RoundTicket ticket, IEnumerable<ClientUpdate> accepted, IEnumerable<RejectedUpdate> rejected, IReadOnlyDictionary<string, long>? clipIndicators = null)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        ArgumentNullException.ThrowIfNull(accepted);
        ArgumentNullException.ThrowIfNull(rejected);
        if (Stage != RoundStage.WaitingForClients || ticket.Round != Round)
        {
            throw new InvalidOperationException($"Only round {Round} can be restored while waiting for clients; got round {ticket.Round} in stage {Stage}.");
        }

        Begin(ticket);
        foreach (var r in rejected)
        {
            _rejected.Add(r);
            _arrivals++;
        }

        foreach (var update in accepted)
        {
            long? indicator = clipIndicators is not null && clipIndicators.TryGetValue(update.ClientId, out long b) ? b : null;
            var result = Submit(ticket.Round, update, indicator);
            if (!result.IsAccepted)
            {
                throw new InvalidOperationException($"A persisted update of client '{update.ClientId}' no longer passes: {result.Reason}");
            }
        }
    }

    /// <summary>
    /// Receives one update for <paramref name="round"/>. Checks, in order: a round is collecting and it is this one,
    /// the deadline has not passed, the client was sampled, it has not submitted yet, and the update is valid. An
    /// invalid update is recorded with its reason (and counts as the client's submission).
    /// </summary>
    public SubmissionResult Submit(long round, ClientUpdate update) => Submit(round, update, null);

    /// <summary>
    /// Receives one update with its client's clip indicator (see <see cref="RequiresClipIndicator"/>): 1 when the
    /// update's pre-clip norm was at most <see cref="ClientClipNorm"/>, else 0. A given indicator must be 0 or 1; when
    /// one is required and missing the update is rejected with the reason. Otherwise as <see cref="Submit(long, ClientUpdate)"/>.
    /// </summary>
    public SubmissionResult Submit(long round, ClientUpdate update, long? clipIndicator)
    {
        ArgumentNullException.ThrowIfNull(update);
        var gate = CheckPlace(round, update.ClientId);
        if (gate is not null)
        {
            return gate;
        }

        int index = _arrivals++;
        string? reason = _validator.Check(update) ?? CheckClipIndicator(clipIndicator);
        if (reason is not null)
        {
            _rejected.Add(new RejectedUpdate(update.ClientId, reason, index));
            return new SubmissionResult(SubmissionStatus.Invalid, reason);
        }

        // FedAvg and DP-FedAvg add the update to their running sum now; the others keep it until the round completes.
        if (_dpSum is not null)
        {
            _dpSum.Add(update.Delta.AsSpan(), RequiresClipIndicator ? clipIndicator == 1 : null);
            _sumOrder.Add(update.ClientId);
        }
        else if (_fedAvg is not null)
        {
            _fedAvg.Add(update.Delta.AsSpan(), update.SampleCount);
        }
        else
        {
            _retained.Add(update.ClientId, update);
        }

        _accepted.Add(update.ClientId, update.SampleCount);
        return new SubmissionResult(SubmissionStatus.Accepted, null);
    }

    private string? CheckClipIndicator(long? clipIndicator) => clipIndicator switch
    {
        null when RequiresClipIndicator =>
            "the update carries no clip indicator; adaptive clipping with client-side clipping needs each client's 'norm ≤ C' bit (0 or 1)",
        null or 0 or 1 => null,
        long other => $"the clip indicator is {other}; expected 0 (norm above the clip norm) or 1 (norm at most the clip norm)",
    };

    /// <summary>
    /// Records that a participant's submission could not even be decoded (a malformed payload, a body that does not
    /// match its signed hash…): it counts as the client's submission for this round and is kept with its reason.
    /// Returns the same refusals as <see cref="Submit(long, ClientUpdate)"/> when the submission is out of place.
    /// </summary>
    public SubmissionResult RecordRejection(long round, string clientId, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var gate = CheckPlace(round, clientId);
        if (gate is not null)
        {
            return gate;
        }

        _rejected.Add(new RejectedUpdate(clientId, reason, _arrivals++));
        return new SubmissionResult(SubmissionStatus.Invalid, reason);
    }

    /// <summary>
    /// Checks, without recording anything, whether <paramref name="clientId"/> may submit for <paramref name="round"/>
    /// now; returns null when it may, else the refusal. Hosts call it before reading a large payload.
    /// </summary>
    public SubmissionResult? CheckPlace(long round, string clientId)
    {
        if (_current is null)
        {
            return new SubmissionResult(SubmissionStatus.WrongRound, $"no round is collecting updates (stage {Stage}, next round {Round})");
        }

        if (round != _current.Round)
        {
            return new SubmissionResult(SubmissionStatus.WrongRound, $"the update is for round {round}, but round {_current.Round} is collecting");
        }

        if (_clock.UtcNow > _current.Deadline)
        {
            return new SubmissionResult(SubmissionStatus.TooLate, $"round {round}'s deadline {_current.Deadline:O} has passed");
        }

        if (!_participants.Contains(clientId))
        {
            return new SubmissionResult(SubmissionStatus.NotSelected, $"client '{clientId}' was not sampled into round {round}");
        }

        if (HasSubmitted(clientId))
        {
            return new SubmissionResult(SubmissionStatus.AlreadySubmitted, $"client '{clientId}' already submitted in round {round}");
        }

        return null;
    }

    /// <summary>
    /// Completes the collecting round when every participant has answered or the deadline has passed, and returns its
    /// result; otherwise returns null. After completion the coordinator waits for the next round or has finished.
    /// </summary>
    /// <exception cref="PrivacyBudgetExceededException">Cannot happen in normal use (the budget is checked before a round starts).</exception>
    public RoundResult? Poll()
    {
        if (_current is null)
        {
            return null;
        }

        var now = _clock.UtcNow;
        bool everyoneAnswered = _accepted.Count + _rejected.Count >= _participants.Count;
        if (!everyoneAnswered && now <= _current.Deadline)
        {
            return null;
        }

        return Complete(now);
    }

    /// <summary>
    /// Completes the collecting round from a secure-aggregation outcome instead of individual updates (Bonawitz et al.
    /// 2017): the server only ever holds the decoded sum. Without DP the aggregate is the weighted mean Σ w·clip(x) / Σ w;
    /// with DP-FedAvg (client-side clipping, weight 1 per client) the ledger is charged first, then N(0, z²C²) is added to
    /// the sum once and it is divided by the expected number of clients m, as <see cref="DpFedAvg"/> does. With
    /// <see cref="RoundOptions.DistributedPrivacy"/> the sum already carries the clients' discrete Gaussian noise (Kairouz,
    /// Liu, Steinke 2021): the ledger is charged with the plan's entry for the survivors and nothing is added. A round with
    /// fewer than <see cref="RoundOptions.MinUpdates"/> contributors (or, under distributed DP, fewer than the plan's
    /// minimum survivors), or an aborted protocol, fails: nothing is charged and the model is unchanged.
    /// </summary>
    /// <remarks>The sample counts of contributors are hidden under the masks; <see cref="RoundResult.Accepted"/> lists them with 0.
    /// Dropouts are reported as stragglers and, with the stage they missed, as flagged.</remarks>
    /// <exception cref="InvalidOperationException"><paramref name="round"/> is not the collecting round.</exception>
    /// <exception cref="ArgumentException">The sum's length differs from the model's, or a contributor was not sampled.</exception>
    public RoundResult CompleteSecure(long round, SecureRoundOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (_current is null || _current.Round != round)
        {
            throw new InvalidOperationException($"Round {round} is not collecting (stage {Stage}, round {Round}).");
        }

        if (_dp is not null && _dp.Options.Placement != ClippingPlacement.Client)
        {
            throw new InvalidOperationException("DP-FedAvg over secure aggregation needs client-side clipping: the server never sees an individual update to clip.");
        }

        if (outcome.WeightedSum is { } given && given.Length != _model.Layout.TotalLength)
        {
            throw new ArgumentException($"The secure sum has {given.Length} values; the model has {_model.Layout.TotalLength}.", nameof(outcome));
        }

        if (outcome.Contributors.FirstOrDefault(c => !_participants.Contains(c)) is { } stranger)
        {
            throw new ArgumentException($"Contributor '{stranger}' was not sampled into round {round}.", nameof(outcome));
        }

        if (RequiresClipIndicator && outcome.WeightedSum is not null && outcome.ClipIndicatorSum is null)
        {
            throw new ArgumentException("Adaptive clipping with client-side clipping needs the clip-indicator count of the secure sum, and the outcome carries none.", nameof(outcome));
        }

        var secureFlags = new List<(string, string)>();

        var ticket = _current;
        var now = _clock.UtcNow;
        string? failure = outcome.FailureReason;
        if (failure is null && (outcome.WeightedSum is null || outcome.Contributors.Count < Options.MinUpdates))
        {
            failure = $"only {outcome.Contributors.Count} of the {Options.MinUpdates} required clients completed secure aggregation";
        }

        if (failure is null && Options.DistributedPrivacy is { } plan && outcome.Contributors.Count < plan.MinimumSurvivors)
        {
            // Fewer noise shares than calibrated: the sum is discarded unused and nothing is charged.
            failure = $"only {outcome.Contributors.Count} clients survived secure aggregation, fewer than the {plan.MinimumSurvivors} the distributed DP noise is calibrated for; the sum was discarded and nothing was charged";
        }

        if (failure is null && _dp is null && outcome.TotalWeight <= 0)
        {
            failure = $"the secure sum carries a total weight of {outcome.TotalWeight}; expected a positive sum of sample counts";
        }

        PrivacySpent? spent = null;
        if (failure is null)
        {
            double[] sum = outcome.WeightedSum!;
            var aggregate = new float[sum.Length];
            if (_dp is not null)
            {
                // Charge before any noise is drawn: a refused round releases nothing.
                var p = _dp.Options;
                spent = Ledger!.Charge(NextRelease(ticket.Round, outcome.Contributors.Count));
                for (int i = 0; i < sum.Length; i++)
                {
                    aggregate[i] = (float)sum[i];
                }

                if (Options.DistributedPrivacy is null)
                {
                    new GaussianMechanism(p.UpdateNoiseMultiplier, _dp.CurrentClipNorm).AddNoise(aggregate, _noise!);
                }
                System.Numerics.Tensors.TensorPrimitives.Multiply(aggregate, (float)(1.0 / p.ExpectedClientsPerRound), aggregate);
                if (RequiresClipIndicator)
                {
                    int n = outcome.Contributors.Count;
                    long count = outcome.ClipIndicatorSum!.Value;
                    if (count < 0 || count > n)
                    {
                        // Only a client that put something other than 0 or 1 in its indicator coordinate can cause this;
                        // the clamp bounds its pull on C to that of an honest report.
                        secureFlags.Add(("secure-sum", $"the clip-indicator count decoded to {count}, outside [0, {n}] for {n} contributors: some client sent an indicator other than 0 or 1; clamped"));
                        count = Math.Clamp(count, 0, n);
                    }

                    _dp.UpdateClipNorm((int)count, n);
                }
            }
            else
            {
                for (int i = 0; i < sum.Length; i++)
                {
                    aggregate[i] = (float)(sum[i] / outcome.TotalWeight);
                }
            }

            _optimizer.Step(_model.AsSpan(), aggregate);
        }

        if (spent is null && Ledger is not null)
        {
            spent = Ledger.Spent;
        }

        var contributors = new HashSet<string>(outcome.Contributors, StringComparer.Ordinal);
        var result = new RoundResult(
            ticket.Round,
            failure is null,
            failure,
            ticket.Participants,
            outcome.Contributors.Order(StringComparer.Ordinal).Select(c => (c, 0L)).ToArray(),
            [],
            ticket.Participants.Where(p => !contributors.Contains(p)).ToArray(),
            secureFlags.Count == 0 ? outcome.Dropouts : [.. outcome.Dropouts, .. secureFlags],
            _model.Clone(),
            spent,
            ticket.StartedAt,
            now);

        return EndRound(ticket, result);
    }

    private void Begin(RoundTicket ticket)
    {
        _started = true;
        _current = ticket;
        _participants.Clear();
        _participants.UnionWith(ticket.Participants);
        ClearRoundState();
        _arrivals = 0;
        Stage = RoundStage.Collecting;
    }

    private void ClearRoundState()
    {
        _accepted.Clear();
        _retained.Clear();
        _sumOrder.Clear();
        _rejected.Clear();
        _fedAvg?.Clear();
        _dpSum?.Clear();
    }

    private RoundResult Complete(DateTimeOffset now)
    {
        var ticket = _current!;
        var accepted = _accepted.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => (ClientId: a.Key, SampleCount: a.Value)).ToArray();
        var answered = new HashSet<string>(_accepted.Keys, StringComparer.Ordinal);
        answered.UnionWith(_rejected.Select(r => r.ClientId));
        var stragglers = ticket.Participants.Where(p => !answered.Contains(p)).ToArray();
        var flagged = new List<(string, string)>();
        string? failure = null;
        PrivacySpent? spent = null;

        if (accepted.Length < Options.MinUpdates)
        {
            failure = $"only {accepted.Length} of the {Options.MinUpdates} required updates were accepted ({_rejected.Count} rejected, {stragglers.Length} stragglers)";
        }
        else if (_dpSum is not null)
        {
            var dpRound = _dpSum.Complete(ticket.Round);
            spent = dpRound.Spent;
            flagged.AddRange(dpRound.Result.Flagged.Select(f => (_sumOrder[f.Index], f.Reason)));
            _optimizer.Step(_model.AsSpan(), dpRound.Result.Aggregate);
        }
        else if (_fedAvg is not null)
        {
            _optimizer.Step(_model.AsSpan(), _fedAvg.Complete());
        }
        else
        {
            var updates = _retained.Values.OrderBy(u => u.ClientId, StringComparer.Ordinal).ToArray();
            var deltas = updates.Select(u => (ReadOnlyMemory<float>)u.Delta.AsMemory()).ToArray();
            var weights = updates.Select(u => (double)u.SampleCount).ToArray();
            var aggregation = Aggregator!.Aggregate(deltas, weights);
            flagged.AddRange(aggregation.Flagged.Select(f => (updates[f.Index].ClientId, f.Reason)));
            _optimizer.Step(_model.AsSpan(), aggregation.Aggregate);
        }

        if (spent is null && Ledger is not null)
        {
            spent = Ledger.Spent;
        }

        var result = new RoundResult(
            ticket.Round,
            failure is null,
            failure,
            ticket.Participants,
            accepted,
            _rejected.ToArray(),
            stragglers,
            flagged,
            _model.Clone(),
            spent,
            ticket.StartedAt,
            now);

        return EndRound(ticket, result);
    }

    /// <summary>Clears the finished round's state, moves to the next round (or stops) and returns its result.</summary>
    private RoundResult EndRound(RoundTicket ticket, RoundResult result)
    {
        _current = null;
        _participants.Clear();
        ClearRoundState();
        Round = ticket.Round + 1;
        Stage = RoundStage.WaitingForClients;
        CheckStop();
        return result;
    }

    private void CheckStop()
    {
        if (Round >= Options.Rounds)
        {
            Finish(Rounds.StopReason.RoundsCompleted);
            return;
        }

        if (_dp is not null)
        {
            // Under distributed DP a released round has at least n_min survivors, so it always costs the n_min entry.
            var next = Options.DistributedPrivacy is { } plan
                ? NextRelease(Round, plan.MinimumSurvivors)
                : new PrivacyRelease(Round, _dp.MechanismName, _dp.Options.SampleRate, _dp.Options.NoiseMultiplier);
            if (Ledger!.Preview(next).Epsilon > Ledger.Budget.MaxEpsilon)
            {
                Finish(Rounds.StopReason.PrivacyBudgetExhausted);
            }
        }
    }

    /// <summary>The ledger entry of a secure DP round: the central Gaussian on the sum, or the clients' distributed noise for <paramref name="survivors"/>.</summary>
    private PrivacyRelease NextRelease(long round, int survivors) => Options.DistributedPrivacy is { } plan
        ? new PrivacyRelease(round, DistributedDpPlan.MechanismName, plan.Release(survivors, _dp!.Options.SampleRate))
        : new PrivacyRelease(round, "dp-fedavg+secagg", _dp!.Options.SampleRate, _dp.Options.NoiseMultiplier);

    private void Finish(StopReason reason)
    {
        Stage = RoundStage.Finished;
        StopReason = reason;
    }
}
