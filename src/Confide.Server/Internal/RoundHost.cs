using System.Collections.Concurrent;
using System.Diagnostics;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.Time;
using Confide.Updates;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Confide.Server.Internal;

/// <summary>
/// Owns the <see cref="RoundCoordinator"/> and keeps it and the <see cref="StateStore"/> in step: every coordinator
/// call happens under one lock, and what it decides is written to the store before the lock is released. Maps the
/// coordinator's answers to gRPC statuses. No round logic lives here.
/// </summary>
internal sealed partial class RoundHost
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSeen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _uploading = new(StringComparer.Ordinal);
    private readonly ServerOptions _options;
    private readonly StateStore _store;
    private readonly ISystemClock _clock;
    private readonly ILogger _logger;
    private readonly RoundCoordinator _coordinator;
    private readonly SecAggRoundHost? _secure;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly GroupCommit _groupCommit;
    private readonly UpdateArrayPool _updateArrays;

    /// <summary>
    /// The pooled arrays behind the collecting round's accepted updates, when the coordinator retains them (robust
    /// aggregators); returned when the round completes.
    /// </summary>
    private readonly List<float[]> _roundArrays = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _modelBytes;
    private int _arrivals;
    private long _completedRounds;
    private long _failedRounds;

    public RoundHost(ServerOptions options, StateStore store, ISystemClock clock, IRandomSource random, IGaussianNoise noise, ILogger logger)
    {
        _options = options;
        _store = store;
        _groupCommit = new GroupCommit(store.Flush);
        _clock = clock;
        _logger = logger;
        _secure = options.SecureAggregation is { } secure ? new SecAggRoundHost(secure, options.Rounds, clock, random) : null;
        var initial = store.LoadOrSaveInitialModel(options.InitialModel);
        store.DeleteOrphanPendingUpdates();
        var (completed, model) = store.LoadLastCheckpoint(initial.Layout);
        _completedRounds = completed;
        PrivacyLedger? ledger = null;
        if (options.Rounds.Privacy is not null)
        {
            ledger = store.LoadLedger();
            if (ledger is null)
            {
                ledger = new PrivacyLedger(options.PrivacyBudget!);
                store.SaveLedger(ledger);
            }
        }

        _coordinator = new RoundCoordinator(options.Rounds, model ?? initial, completed, ledger, ledger is null ? null : noise, random, clock);
        if (store.LoadServerState() is { } saved)
        {
            // The optimiser's moments and the adaptive clip norm, as they were after the last completed round.
            _coordinator.RestoreServerState(saved);
        }

        _modelBytes = Safetensors.Write(_coordinator.GlobalModel);
        _updateArrays = new UpdateArrayPool(_coordinator.Layout.TotalLength);
        var collecting = store.LoadCollectingRound(initial.Layout);
        if (_secure is not null && collecting is { } s && _coordinator.Stage == RoundStage.WaitingForClients && s.Ticket.Round == _coordinator.Round)
        {
            AbortInterruptedSecureRound(s.Ticket);
        }
        else if (collecting is { } c && _coordinator.Stage == RoundStage.WaitingForClients && c.Ticket.Round == _coordinator.Round)
        {
            _coordinator.Restore(c.Ticket, c.Accepted, c.Rejected, store.LoadClipIndicators(c.Ticket.Round));
            _arrivals = c.Accepted.Count + c.Rejected.Count;
            LogRestored(c.Ticket.Round, c.Accepted.Count, c.Rejected.Count);
        }

        _failedRounds = store.CountFailedRounds();
        LogResumed(_completedRounds, _coordinator.Stage);
        if (_coordinator.Stage == RoundStage.Finished)
        {
            _finished.TrySetResult();
        }
    }

    public Task Finished => _finished.Task;

    /// <summary>
    /// Completes at the next change that can turn a WAIT into another answer: a round starting or completing. Take it
    /// before asking <see cref="TaskFor"/>, so a change in between is not missed.
    /// </summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    public RoundStage Stage
    {
        get
        {
            lock (_gate)
            {
                return _coordinator.Stage;
            }
        }
    }

    /// <summary>Completed rounds that ended without aggregating (too few updates, or an aborted secure aggregation).</summary>
    public long FailedRounds
    {
        get
        {
            lock (_gate)
            {
                return _failedRounds;
            }
        }
    }

    public StopReason? StopReason
    {
        get
        {
            lock (_gate)
            {
                return _coordinator.StopReason;
            }
        }
    }

    public ModelParameters GlobalModel
    {
        get
        {
            lock (_gate)
            {
                return _coordinator.GlobalModel;
            }
        }
    }

    public int ModelByteCount => Volatile.Read(ref _modelBytes).Length;

    public string GlobalLayoutFingerprint => _coordinator.Layout.FingerprintHex;

    /// <summary>The block-aligned buffers uploads are received into.</summary>
    public UploadBufferPool UploadBuffers { get; } = new();

    /// <summary>The layout every update must have.</summary>
    public ParameterLayout Layout => _coordinator.Layout;

    /// <summary>
    /// A model-length array to decode an update into (contents unspecified). Hand it to <see cref="SubmitAsync"/>, or
    /// back through <see cref="ReturnUpdateArray"/> when the update never gets there.
    /// </summary>
    public float[] RentUpdateArray() => _updateArrays.Rent();

    /// <summary>Takes back an array from <see cref="RentUpdateArray"/> that nothing references.</summary>
    public void ReturnUpdateArray(float[] array) => _updateArrays.Return(array);

    /// <summary>Runs <see cref="Tick"/>; on a failure logs it, faults <see cref="Finished"/> and returns false.</summary>
    public bool SafeTick()
    {
        try
        {
            Tick();
            return true;
        }
        catch (Exception ex) when (ex is IOException or Microsoft.Data.Sqlite.SqliteException or InvalidOperationException or UnauthorizedAccessException)
        {
            LogTickFailed(ex);
            _finished.TrySetException(new InvalidOperationException("A round step could not be persisted; restart the server to resume from the state folder.", ex));
            return false;
        }
    }

    /// <summary>
    /// Starts a round when enough clients are connected, and completes the collecting one when it is done. A secure
    /// round's final reconstruction runs after the lock is released (<see cref="ReconstructOutsideLock"/>).
    /// </summary>
    public void Tick()
    {
        SecAggReconstruction? reconstruction;
        lock (_gate)
        {
            if (_coordinator.Stage == RoundStage.WaitingForClients)
            {
                var since = _clock.UtcNow - _options.ConnectedWindow;
                var connected = _lastSeen.Where(kv => kv.Value >= since).Select(kv => kv.Key).ToArray();
                var ticket = _coordinator.TryStartRound(connected);
                if (ticket is not null)
                {
                    _store.BeginRound(ticket);
                    _arrivals = 0;
                    LogRoundStarted(ticket.Round, ticket.Participants.Count, connected.Length);
                    if (_secure is not null)
                    {
                        BeginSecure(ticket);
                    }

                    SignalChange();
                }
            }

            long start = Stopwatch.GetTimestamp();
            var result = _secure is null ? _coordinator.Poll() : PollSecure();
            if (result is not null)
            {
                ServerMetrics.RecordSince(ServerMetrics.RoundAggregateSeconds, start);

                // The coordinator has let go of the round's updates: their arrays serve the next round.
                _updateArrays.Return(_roundArrays);
                _roundArrays.Clear();
                start = Stopwatch.GetTimestamp();
                byte[] encoded = Safetensors.Write(result.Model); // the checkpoint and the next round's downloads
                _store.CompleteRound(result, _coordinator.Ledger, _coordinator.ExportServerState(), encoded);
                ServerMetrics.RecordSince(ServerMetrics.RoundPersistSeconds, start);
                _completedRounds = result.Round + 1;
                if (!result.Aggregated)
                {
                    _failedRounds++;
                }

                Volatile.Write(ref _modelBytes, encoded);
                SignalChange();
                LogRoundCompleted(result.Round, result.Aggregated ? "aggregated" : "failed", result.Accepted.Count, result.Rejected.Count, result.Stragglers.Count, result.Privacy?.Epsilon ?? 0);
                if (_secure is not null)
                {
                    RecordSecureContributors(result);
                }

                if (_coordinator.Stage == RoundStage.Finished)
                {
                    LogFinished(_coordinator.StopReason!.Value, _completedRounds);
                    _finished.TrySetResult();
                }
            }

            reconstruction = _secure?.PendingReconstruction;
        }

        if (reconstruction is not null && ReconstructOutsideLock(reconstruction))
        {
            // Committed: the round's outcome is ready, store it now rather than at the next tick.
            Tick();
        }
    }

    /// <summary>Wakes the long polls waiting on <see cref="Changed"/>; called under the gate.</summary>
    private void SignalChange()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    /// <summary>What <paramref name="clientId"/> should do now; also marks it connected.</summary>
    public Wire.V1.RoundTask TaskFor(string clientId)
    {
        _lastSeen[clientId] = _clock.UtcNow;
        lock (_gate)
        {
            if (_coordinator.Stage == RoundStage.Finished)
            {
                return new Wire.V1.RoundTask { Kind = Wire.V1.RoundTask.Types.Kind.Finished, Round = _coordinator.Round, StopReason = StopText(_coordinator.StopReason) };
            }

            var current = _coordinator.Current;
            if (current is null || !_coordinator.IsParticipant(clientId) || _coordinator.HasSubmitted(clientId))
            {
                return new Wire.V1.RoundTask { Kind = Wire.V1.RoundTask.Types.Kind.Wait, Round = _coordinator.Round, RetryAfterMs = (int)_options.RetryAfter.TotalMilliseconds };
            }

            var task = new Wire.V1.RoundTask
            {
                Kind = Wire.V1.RoundTask.Types.Kind.Train,
                Round = current.Round,
                LayoutFingerprint = _coordinator.Layout.FingerprintHex,
                DeadlineUnixMs = current.Deadline.ToUnixTimeMilliseconds(),
                Training = _options.Training,
                ClipNorm = _coordinator.ClientClipNorm ?? 0,
                MaxSampleCount = _options.Rounds.MaxSampleCount,
                ModelBytes = ModelByteCount,
                RetryAfterMs = (int)_options.RetryAfter.TotalMilliseconds,
            };
            if (_secure is not null && !TryAddSecureSetup(clientId, task))
            {
                return new Wire.V1.RoundTask { Kind = Wire.V1.RoundTask.Types.Kind.Wait, Round = _coordinator.Round, RetryAfterMs = (int)_options.RetryAfter.TotalMilliseconds };
            }

            return task;
        }
    }

    /// <summary>The encoded global model of <paramref name="round"/>, for a participant of that round.</summary>
    public byte[] ModelFor(string clientId, long round)
    {
        lock (_gate)
        {
            var current = _coordinator.Current;
            if (current is null || current.Round != round)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"round {round} is not collecting (the current round is {_coordinator.Round}, stage {_coordinator.Stage})"));
            }

            if (!_coordinator.IsParticipant(clientId))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"client '{clientId}' was not sampled into round {round}"));
            }

            return _modelBytes;
        }
    }

    /// <summary>Marks an upload from <paramref name="clientId"/> as in progress; false when one already is.</summary>
    public bool TryBeginUpload(string clientId) => _uploading.TryAdd(clientId, 0);

    /// <summary>Ends the upload started by <see cref="TryBeginUpload"/>.</summary>
    public void EndUpload(string clientId) => _uploading.TryRemove(clientId, out _);

    /// <summary>True while an upload of <paramref name="clientId"/> runs (between <see cref="TryBeginUpload"/> and <see cref="EndUpload"/>).</summary>
    public bool IsUploading(string clientId) => _uploading.ContainsKey(clientId);

    /// <summary>Throws the matching RpcException unless <paramref name="clientId"/> may submit for <paramref name="round"/> now.</summary>
    public void CheckPlace(string clientId, long round)
    {
        lock (_gate)
        {
            if (_secure is not null)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "this server runs secure aggregation: updates go through the SecAgg stages, never SubmitUpdate"));
            }

            if (_coordinator.CheckPlace(round, clientId) is { } refusal)
            {
                throw ToRpc(refusal);
            }
        }
    }

    /// <summary>Records a submission that could not be decoded, then throws InvalidArgument with the reason.</summary>
    public Exception Reject(string clientId, long round, string reason)
    {
        lock (_gate)
        {
            var result = _coordinator.RecordRejection(round, clientId, reason);
            if (result.Status == SubmissionStatus.Invalid)
            {
                _store.RecordSubmission(round, clientId, false, reason, null, _arrivals++, null, _clock.UtcNow);
                LogRejected(clientId, round, reason);
            }

            return ToRpc(result);
        }
    }

    /// <summary>
    /// Submits a decoded update and persists the outcome; throws the matching RpcException unless accepted. Completes
    /// once the acceptance is on disk (group commit: the row is committed under the lock without a flush, and a flush
    /// shared with other submissions follows outside it). <paramref name="pooled"/>, the array from
    /// <see cref="RentUpdateArray"/> behind the update, goes back to the pool when the update is refused, or when its round
    /// completes once accepted. <paramref name="clipIndicator"/> is the header's adaptive-clipping bit, if any; the
    /// coordinator checks it.
    /// </summary>
    public async Task SubmitAsync(long round, ClientUpdate update, ReadOnlyMemory<byte> payload, float[]? pooled = null, long? clipIndicator = null)
    {
        // The payload reaches the disk before the lock is taken; only a small row is written under it.
        long start = Stopwatch.GetTimestamp();
        string pending;
        try
        {
            pending = _store.WritePendingUpdate(round, payload.Span);
        }
        catch when (pooled is not null)
        {
            _updateArrays.Return(pooled);
            throw;
        }

        ServerMetrics.RecordSince(ServerMetrics.UpdatePersistSeconds, start);
        start = Stopwatch.GetTimestamp();
        long ticket;
        lock (_gate)
        {
            ServerMetrics.RecordSince(ServerMetrics.UpdateLockWaitSeconds, start);
            long validate = Stopwatch.GetTimestamp();
            var result = _coordinator.Submit(round, update, clipIndicator);
            ServerMetrics.RecordSince(ServerMetrics.UpdateValidateSeconds, validate);
            if (pooled is not null)
            {
                // Held by the coordinator until the round completes when its aggregator needs every update at once;
                // otherwise (FedAvg, DP-FedAvg: already in the running sum) or when refused, free again at once.
                if (result.IsAccepted && _coordinator.RetainsUpdates)
                {
                    _roundArrays.Add(pooled);
                }
                else
                {
                    _updateArrays.Return(pooled);
                }
            }

            if (result.Status is SubmissionStatus.Accepted or SubmissionStatus.Invalid)
            {
                // A rejection is rare and flushed at once; an acceptance waits for the shared flush below.
                long record = Stopwatch.GetTimestamp();
                _store.RecordSubmission(round, update.ClientId, result.IsAccepted, result.Reason, update.SampleCount, _arrivals++, result.IsAccepted ? pending : null, _clock.UtcNow, durable: !result.IsAccepted, result.IsAccepted ? clipIndicator : null);
                ServerMetrics.RecordSince(ServerMetrics.UpdateRecordSeconds, record);
            }

            if (!result.IsAccepted)
            {
                _store.DeletePendingUpdate(pending);
                if (result.Status == SubmissionStatus.Invalid)
                {
                    LogRejected(update.ClientId, round, result.Reason!);
                }

                throw ToRpc(result);
            }

            ticket = _groupCommit.Written();
            LogAccepted(update.ClientId, round);
        }

        ServerMetrics.RecordSince(ServerMetrics.UpdateCommitSeconds, start);
        start = Stopwatch.GetTimestamp();
        await _groupCommit.WhenDurableAsync(ticket).ConfigureAwait(false);
        ServerMetrics.RecordSince(ServerMetrics.UpdateFlushSeconds, start);
    }

    public Wire.V1.StatusResponse Status()
    {
        int connected = _lastSeen.Count(kv => kv.Value >= _clock.UtcNow - _options.ConnectedWindow);
        int enrolled = _store.CountClients();
        lock (_gate)
        {
            var spent = _coordinator.Ledger?.Spent;
            var status = new Wire.V1.StatusResponse
            {
                Round = _coordinator.Round,
                CompletedRounds = _completedRounds,
                FailedRounds = _failedRounds,
                TotalRounds = _options.Rounds.Rounds,
                Stage = _coordinator.Stage switch
                {
                    RoundStage.WaitingForClients => "waiting-for-clients",
                    RoundStage.Collecting => "collecting",
                    _ => "finished",
                },
                EnrolledClients = enrolled,
                ConnectedClients = connected,
                Participants = _coordinator.Current?.Participants.Count ?? 0,
                AcceptedUpdates = _coordinator.Current is null ? 0 : _coordinator.AcceptedCount,
                EpsilonSpent = spent?.Epsilon ?? 0,
                Delta = _coordinator.Ledger?.Budget.Delta ?? 0,
                MaxEpsilon = _coordinator.Ledger?.Budget.MaxEpsilon ?? 0,
                StopReason = StopText(_coordinator.StopReason),
            };
            if (_secure?.Status() is { } secure)
            {
                status.SecaggStage = secure.Stage;
                status.SecaggReceived = secure.Received;
                status.SecaggExpected = secure.Expected;
                status.SecaggStageDeadlineUnixMs = secure.Deadline?.ToUnixTimeMilliseconds() ?? 0;
            }

            return status;
        }
    }

    private static string StopText(StopReason? reason) => reason switch
    {
        Protocol.Rounds.StopReason.RoundsCompleted => "rounds-completed",
        Protocol.Rounds.StopReason.PrivacyBudgetExhausted => "privacy-budget-exhausted",
        _ => "",
    };

    private static RpcException ToRpc(SubmissionResult result) => new(new Status(
        result.Status switch
        {
            SubmissionStatus.Invalid => StatusCode.InvalidArgument,
            SubmissionStatus.NotSelected => StatusCode.PermissionDenied,
            SubmissionStatus.AlreadySubmitted => StatusCode.AlreadyExists,
            _ => StatusCode.FailedPrecondition,
        },
        result.Status == SubmissionStatus.Invalid ? $"update rejected: {result.Reason}" : result.Reason ?? result.Status.ToString()));

    [LoggerMessage(Level = LogLevel.Information, Message = "Resumed after {Completed} completed rounds; stage {Stage}")]
    private partial void LogResumed(long completed, RoundStage stage);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restored collecting round {Round} with {Accepted} accepted and {Rejected} rejected updates")]
    private partial void LogRestored(long round, int accepted, int rejected);

    [LoggerMessage(Level = LogLevel.Information, Message = "Round {Round} started with {Participants} of {Connected} connected clients")]
    private partial void LogRoundStarted(long round, int participants, int connected);

    [LoggerMessage(Level = LogLevel.Information, Message = "Round {Round} {Outcome}: {Accepted} accepted, {Rejected} rejected, {Stragglers} stragglers, ε spent {Epsilon:G4}")]
    private partial void LogRoundCompleted(long round, string outcome, int accepted, int rejected, int stragglers, double epsilon);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run finished ({Reason}) after {Completed} rounds")]
    private partial void LogFinished(StopReason reason, long completed);

    [LoggerMessage(Level = LogLevel.Error, Message = "A coordinator step could not be persisted; stopping rounds (restart to resume from the state folder)")]
    private partial void LogTickFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Accepted the update of {ClientId} for round {Round}")]
    private partial void LogAccepted(string clientId, long round);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected the update of {ClientId} for round {Round}: {Reason}")]
    private partial void LogRejected(string clientId, long round, string reason);
}
