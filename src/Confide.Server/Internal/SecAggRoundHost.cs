using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Time;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Internal;

/// <summary>
/// The server side of secure aggregation over gRPC: sets up one <see cref="SecAggRoundDriver"/> per round (roster,
/// session, SecAgg+ graph, quantizer), maps SecAgg RPCs to protocol messages and back (<see cref="SecAggWireMapping"/>),
/// and turns a finished round into a <see cref="SecureRoundOutcome"/> for the coordinator. No protocol logic lives here.
/// Under distributed DP the setup carries the plan's quantizer and noise parameters, and the sum is decoded with it.
/// </summary>
/// <remarks>
/// Not thread-safe: <see cref="RoundHost"/> calls it under its lock. The one exception is the final reconstruction
/// (<see cref="PendingReconstruction"/>), which the host runs outside the lock and commits with <see cref="Commit"/>.
/// </remarks>
internal sealed class SecAggRoundHost(SecureAggregationSettings settings, RoundOptions rounds, ISystemClock clock, IRandomSource random)
{
    private Running? _current;
    private Running? _last;
    private SecureRoundOutcome? _setupFailure;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private (int Reports, bool Finished) _seen;

    /// <summary>Completes when a stage of the running round closes (or a round starts or ends): long polls wait on it.</summary>
    public Task Changed => _changed.Task;

    /// <summary>True while a secure round runs.</summary>
    public bool IsRunning => _current is not null;

    /// <summary>Refuses settings that cannot work with secure aggregation.</summary>
    public static void Validate(ServerOptions options)
    {
        if (options.SecureAggregation is null)
        {
            return;
        }

        var r = options.Rounds;
        if (r.Privacy is { } dp && dp.Placement != ClippingPlacement.Client)
        {
            throw new ArgumentException("Secure aggregation with DP-FedAvg needs client-side clipping (--dp-client-clip): the server never sees an update to clip.");
        }

        if (r.Privacy is null && !string.Equals(r.Aggregator.Method, "fedavg", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Secure aggregation shows the server only the sum of the updates; aggregator '{r.Aggregator.Method}' needs each update. Use fedavg (or DP-FedAvg).");
        }

        if ((r.Sampling.Count ?? r.Sampling.Minimum) < 2)
        {
            throw new ArgumentException("Secure aggregation needs at least 2 clients per round (a sum of one update is that update).");
        }

        if (r.MaxUpdateNorm is not null)
        {
            throw new ArgumentException("--max-update-norm cannot be checked under secure aggregation: the server never sees an individual update.");
        }

        if (r.DistributedPrivacy is { } plan)
        {
            int length = options.InitialModel.Layout.TotalLength;
            if (plan.ModulusBits != options.SecureAggregation.ModulusBits || plan.Dimension != length)
            {
                throw new ArgumentException(
                    $"The distributed-DP plan is for Z_2^{plan.ModulusBits} and {plan.Dimension} parameters; secure aggregation runs in Z_2^{options.SecureAggregation.ModulusBits} over a model of {length}.");
            }
        }
    }

    /// <summary>
    /// The largest single gRPC message the server must accept: a masked input is one unary message of D + 1 words, which
    /// outgrows the default bound (one model chunk) for models above about a quarter of a million parameters.
    /// </summary>
    public static int MaxReceiveBytes(ServerOptions options)
    {
        if (options.SecureAggregation is not { } secure)
        {
            return options.MaxMessageBytes;
        }

        long masked = (EncodedLength(options.Rounds, options.InitialModel.Layout.TotalLength) * (long)SecAggWireMapping.WordSize(secure.ModulusBits)) + (64 << 10);
        return (int)Math.Min(int.MaxValue, Math.Max(options.MaxMessageBytes, masked));
    }

    /// <summary>
    /// True with adaptive clipping (client-side clipping, as Validate requires): each input carries its client's clip
    /// indicator as one more coordinate (<see cref="ClipIndicatorEncoding"/>), and the server learns only their sum.
    /// </summary>
    private static bool CarriesClipIndicator(RoundOptions rounds) => rounds.Privacy?.AdaptiveClipping is not null;

    private static int EncodedLength(RoundOptions rounds, int modelLength) =>
        CarriesClipIndicator(rounds) ? ClipIndicatorEncoding.EncodedLength(modelLength) : StochasticQuantizer.EncodedLength(modelLength);

    /// <summary>
    /// Sets up the secure round for <paramref name="ticket"/>. When it cannot be set up (parameters that do not fit,
    /// a participant without a key), the next <see cref="Poll"/> returns a failed outcome with the reason.
    /// </summary>
    /// <param name="ticket">The round the coordinator started.</param>
    /// <param name="modelLength">The model's parameter count.</param>
    /// <param name="keyOf">Each participant's enrolled Ed25519 public key, or null.</param>
    /// <param name="dpClipNorm">The DP-FedAvg clip norm, or null without DP.</param>
    public void Begin(RoundTicket ticket, int modelLength, Func<string, byte[]?> keyOf, double? dpClipNorm)
    {
        _current = null;
        _last = null;
        _setupFailure = null;
        try
        {
            var keys = ticket.Participants.Select(id => keyOf(id) ?? throw new ArgumentException($"Participant '{id}' has no enrolled key.")).ToArray();
            Start(ticket, modelLength, keys, dpClipNorm);
        }
        catch (ArgumentException ex)
        {
            _setupFailure = new SecureRoundOutcome([], null, 0, [], $"secure aggregation could not be set up: {ex.Message}");
        }
    }

    private void Start(RoundTicket ticket, int modelLength, byte[][] identityKeys, double? dpClipNorm)
    {
        int n = ticket.Participants.Count;
        int k = Math.Min(settings.Neighbours ?? NeighbourGraph.RecommendedDegree(n), n - 1);
        if (k < n - 1 && k % 2 == 1 && n % 2 == 1)
        {
            // A k-regular Harary graph needs n·k even: step down to the even degree, as simulate does.
            k--;
        }

        bool indicator = CarriesClipIndicator(rounds);
        var options = new SecAggOptions(n, (k / 2) + 1, EncodedLength(rounds, modelLength), k, settings.ModulusBits);
        long maxWeight = dpClipNorm is null ? rounds.MaxSampleCount : 1;
        var noise = rounds.DistributedPrivacy;
        var quantizer = noise?.Quantizer.Options ?? QuantizerOptions.WithLargestScale(dpClipNorm ?? settings.ClipRange, maxWeight, n, settings.ModulusBits);
        if (indicator)
        {
            ClipIndicatorEncoding.CheckHeadroom(quantizer);
        }

        byte[] id = new byte[16];
        random.NextBytes(id);
        string sessionId = $"round-{ticket.Round}-{Convert.ToHexStringLower(id)}";
        byte[] graphSeed = new byte[32];
        random.NextBytes(graphSeed);
        var keys = identityKeys.Select(k => IdentityPublicKey.FromBytes(k)).ToArray();
        var session = new SecAggSession(sessionId, ticket.Round, options, keys, graphSeed);
        var deadlines = SecAggStageDeadlines.Uniform(ticket.Deadline - ticket.StartedAt, settings.StageTimeout);
        var driver = new SecAggRoundDriver(session, deadlines, clock, random.Fork((ulong)ticket.Round)) { DefersReconstruction = true };
        var setup = new SecAggSetup
        {
            SessionId = sessionId,
            Threshold = options.Threshold,
            NeighbourCount = options.NeighbourCount,
            ModulusBits = options.ModulusBits,
            SignatureQuorum = options.SignatureQuorum,
            GraphSeed = ByteString.CopyFrom(graphSeed),
            Dimension = options.Dimension,
            ClipRange = quantizer.ClipRange,
            Scale = quantizer.Scale,
            MaxWeight = quantizer.MaxWeight,
            MaxClients = quantizer.MaxClients,
            UnitWeight = dpClipNorm is not null,
            PollIntervalMs = (int)settings.PollInterval.TotalMilliseconds,
            ClipIndicator = indicator,
            ClipIndicatorIndex = indicator ? options.Dimension - 1 : 0,
            DpNoiseVariance = noise?.NoiseVariance ?? 0,
            DpRoundingBeta = noise?.Beta ?? 0,
            DpMinSurvivors = noise?.MinimumSurvivors ?? 0,
        };
        for (int i = 0; i < n; i++)
        {
            setup.Roster.Add(new SecAggRosterEntry { ClientId = ticket.Participants[i], IdentityPublicKey = ByteString.CopyFrom(identityKeys[i]) });
        }

        var index = ticket.Participants.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i, StringComparer.Ordinal);
        _current = new Running(ticket, driver, index, new StochasticQuantizer(quantizer), setup);
        _seen = (0, false);
        Wake();
    }

    /// <summary>The setup a participant of the running round needs, or null.</summary>
    /// <remarks>Only while AdvertiseKeys is open and the client has not advertised: a client that joins later is a dropout anyway.</remarks>
    public SecAggSetup? SetupFor(string clientId)
    {
        if (_current is not { } c || !c.Index.TryGetValue(clientId, out int u))
        {
            return null;
        }

        c.Driver.Poll();
        SignalIfChanged(c);
        return c.Driver.Stage == SecAggStage.AdvertiseKeys && !c.Driver.HasSent(u) ? c.Setup : null;
    }

    /// <summary>When the AdvertiseKeys stage of the running round closes.</summary>
    public DateTimeOffset? AdvertiseDeadline => _current is { Driver.Stage: SecAggStage.AdvertiseKeys } c ? c.Driver.StageDeadline : null;

    /// <summary>Handles one authenticated SecAgg request; throws an RpcException saying why when it is refused.</summary>
    public SecAggResponse Handle(string clientId, SecAggRequest request)
    {
        var running = _current ?? _last;
        if (running is null || running.Ticket.Round != request.Round)
        {
            throw Precondition($"no secure-aggregation round {request.Round} is running{(running is null ? "" : $" (the current one is round {running.Ticket.Round})")}");
        }

        if (request.SessionId != running.Setup.SessionId)
        {
            throw Precondition($"session '{Truncate(request.SessionId)}' is not the session of round {request.Round}; the round was restarted or aborted: fetch the task again");
        }

        if (!running.Index.TryGetValue(clientId, out int u))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"client '{clientId}' was not sampled into round {request.Round}"));
        }

        var driver = running.Driver;
        if (request.StageCase != SecAggRequest.StageOneofCase.Poll)
        {
            var message = SecAggWireMapping.Decode(request, driver.Session, running.Index, u);
            try
            {
                driver.Receive(message);
            }
            catch (SecAggProtocolException ex)
            {
                throw ToRpc(ex);
            }
            finally
            {
                // The last masked input closes MaskedInput at once: stop a round short of n_min before anyone is sent its list.
                StopBelowMinimumSurvivors(driver);
                SignalIfChanged(running);
            }
        }

        try
        {
            return Answer(running, u);
        }
        finally
        {
            SignalIfChanged(running);
        }
    }

    /// <summary>
    /// Advances the running round's clock-driven stages; when it has finished returns its outcome (and keeps it only to
    /// answer late polls), otherwise null.
    /// </summary>
    /// <summary>
    /// With distributed DP, stops a round as soon as MaskedInput closes with fewer survivors than n_min: the clients
    /// refuse to sign or unmask such a list (less noise than calibrated), so waiting out the later stages' deadlines
    /// would only delay the failure and blur its reason.
    /// </summary>
    private void StopBelowMinimumSurvivors(SecAggRoundDriver driver)
    {
        if (rounds.DistributedPrivacy is not { } plan || driver.IsFinished || driver.Stage != SecAggStage.ConsistencyCheck
            || driver.Reports.Count == 0 || driver.Reports[^1] is not { Stage: SecAggStage.MaskedInputCollection } masked
            || masked.Received >= plan.MinimumSurvivors)
        {
            return;
        }

        driver.Abort($"only {masked.Received} masked inputs arrived, fewer than the {plan.MinimumSurvivors} survivors the distributed DP noise is calibrated for (n_min); the clients would refuse to unmask such a sum, so the round stops here and nothing is charged");
    }

    public SecureRoundOutcome? Poll()
    {
        if (_setupFailure is { } failure)
        {
            _setupFailure = null;
            return failure;
        }

        if (_current is not { } running)
        {
            return null;
        }

        var driver = running.Driver;
        driver.Poll();
        StopBelowMinimumSurvivors(driver);
        SignalIfChanged(running);
        if (!driver.IsFinished)
        {
            return null;
        }

        _last = running;
        _current = null;
        var ids = running.Ticket.Participants;
        var dropouts = driver.Reports
            .SelectMany(r => r.Dropped.Select(u => (ids[u], $"secure aggregation: sent nothing for stage {r.Stage} before it closed")))
            .ToList();
        if (driver.Result is not { } result)
        {
            return new SecureRoundOutcome([], null, 0, dropouts, driver.AbortReason ?? "secure aggregation aborted");
        }

        var contributors = result.Survivors.Select(u => ids[u]).ToArray();
        if (running.Setup.ClipIndicator)
        {
            // The indicator coordinate is split off here: only Σ bᵢ goes on, and the model sees D values.
            var values = new double[result.Sum.Length - 2];
            long weight = ClipIndicatorEncoding.DequantizeSum(running.Quantizer, result.Sum, values, out long withinClip);
            return new SecureRoundOutcome(contributors, values, weight, dropouts, null) { ClipIndicatorSum = withinClip };
        }

        var sum = new double[result.Sum.Length - 1];
        long total = running.Quantizer.DequantizeSum(result.Sum, sum);
        return new SecureRoundOutcome(contributors, sum, total, dropouts, null);
    }

    /// <summary>
    /// The running round's final reconstruction, once Unmasking has closed and until it is committed; else null. It
    /// holds only what the server already has (masked inputs, revealed shares) and may run on any thread.
    /// </summary>
    public SecAggReconstruction? PendingReconstruction => _current?.Driver.PendingReconstruction;

    /// <summary>
    /// Commits a reconstruction taken from <see cref="PendingReconstruction"/> and run since. Returns false, and changes
    /// nothing, when it is stale: another round is running now, or this one was aborted in between. The next
    /// <see cref="Poll"/> then returns the round's outcome.
    /// </summary>
    public bool Commit(SecAggReconstruction reconstruction)
    {
        if (_current is not { } running || running.Ticket.Round != reconstruction.Round || running.Setup.SessionId != reconstruction.SessionId)
        {
            return false;
        }

        bool committed = running.Driver.CompleteReconstruction(reconstruction);
        SignalIfChanged(running);
        return committed;
    }

    /// <summary>What <c>GetStatus</c> shows of the running round: stage name, messages received and expected, deadline; null when none runs.</summary>
    public SecAggStatus? Status()
    {
        if (_current is not { } running)
        {
            return null;
        }

        var driver = running.Driver;
        if (driver.IsReconstructing)
        {
            var closed = driver.Reports[^1];
            return new SecAggStatus("reconstructing", closed.Received, closed.Expected, null);
        }

        var stage = driver.Stage;
        return stage is SecAggStage.Completed or SecAggStage.Aborted
            ? new SecAggStatus(StageName(stage), 0, 0, null)
            : new SecAggStatus(StageName(stage), driver.ReceivedInStage, driver.ExpectedInStage, driver.StageDeadline);
    }

    /// <summary>The stage names of <c>StatusResponse.secagg_stage</c> (protos/confide.proto).</summary>
    public static string StageName(SecAggStage stage) => stage switch
    {
        SecAggStage.AdvertiseKeys => "advertise-keys",
        SecAggStage.ShareKeys => "share-keys",
        SecAggStage.MaskedInputCollection => "masked-input",
        SecAggStage.ConsistencyCheck => "consistency",
        SecAggStage.Unmasking => "unmasking",
        SecAggStage.Completed => "completed",
        _ => "aborted",
    };

    /// <summary>Abandons the running round (the server is shutting down).</summary>
    public void Abort(string reason) => _current?.Driver.Abort(reason);

    /// <summary>True when <paramref name="response"/> says "nothing yet, ask again".</summary>
    public static bool IsWaiting(SecAggResponse response) => response.NextCase == SecAggResponse.NextOneofCase.None && response.Outcome.Length == 0;

    private void SignalIfChanged(Running running)
    {
        var now = (running.Driver.Reports.Count, running.Driver.IsFinished);
        if (now != _seen)
        {
            _seen = now;
            Wake();
        }
    }

    private void Wake()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private SecAggResponse Answer(Running running, int u)
    {
        var driver = running.Driver;
        if (driver.Stage == SecAggStage.Completed)
        {
            return new SecAggResponse { Outcome = "completed" };
        }

        if (driver.Stage == SecAggStage.Aborted)
        {
            return new SecAggResponse { Outcome = "aborted", Detail = driver.AbortReason ?? "" };
        }

        if (driver.MessageFor(u) is { } next)
        {
            return SecAggWireMapping.Encode(next, running.Ticket.Participants);
        }

        if (driver.DroppedAt(u) is { } stage)
        {
            throw Precondition($"client '{running.Ticket.Participants[u]}' dropped out of round {running.Ticket.Round}: it sent nothing for stage {stage} before that stage closed");
        }

        return new SecAggResponse { RetryAfterMs = (int)settings.PollInterval.TotalMilliseconds };
    }

    private static RpcException ToRpc(SecAggProtocolException ex) => ex switch
    {
        SecAggOutOfOrderException or SecAggNotInRoundException => Precondition($"SecAgg message out of stage: {ex.Message}"),
        SecAggReplayException => new RpcException(new Status(StatusCode.AlreadyExists, ex.Message)),
        _ => new RpcException(new Status(StatusCode.InvalidArgument, $"SecAgg message refused: {ex.Message}")),
    };

    private static RpcException Precondition(string message) => new(new Status(StatusCode.FailedPrecondition, message));

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";

    private sealed record Running(RoundTicket Ticket, SecAggRoundDriver Driver, Dictionary<string, int> Index, StochasticQuantizer Quantizer, SecAggSetup Setup);
}
