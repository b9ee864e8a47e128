using Confide.Protocol.Rounds;
using Confide.Protocol.SecureAggregation;
using Confide.Wire.V1;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Confide.Server.Internal;

/// <summary>The secure-aggregation half of <see cref="RoundHost"/>: the same lock, the same store, the SecAgg RPC.</summary>
internal sealed partial class RoundHost
{
    /// <summary>Handles one authenticated SecAgg request under the round lock.</summary>
    public SecAggResponse SecAgg(string clientId, SecAggRequest request)
    {
        lock (_gate)
        {
            if (_secure is null)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"secure aggregation is not running on this server, so a {request.StageCase} message is out of stage (start the server with --secure-agg)"));
            }

            return _secure.Handle(clientId, request);
        }
    }

    /// <summary>
    /// Handles one authenticated SecAgg request; a poll with <c>wait_ms</c> is held (outside the lock) until the client's
    /// next input is ready, the round ends, or the wait (at most 10 s) is over.
    /// </summary>
    public async Task<SecAggResponse> SecAggAsync(string clientId, SecAggRequest request, CancellationToken cancellationToken)
    {
        SecAggResponse response;
        Task changed;
        lock (_gate)
        {
            response = SecAgg(clientId, request);
            changed = _secure!.Changed;
        }

        int waitMs = request.StageCase == SecAggRequest.StageOneofCase.Poll ? Math.Clamp(request.Poll.WaitMs, 0, 10_000) : 0;
        long until = Environment.TickCount64 + waitMs;
        while (SecAggRoundHost.IsWaiting(response) && Environment.TickCount64 < until)
        {
            // Stage closes wake the waiters; the timeout bounds the wait when nothing happens.
            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, until - Environment.TickCount64)), cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            lock (_gate)
            {
                response = SecAgg(clientId, request);
                changed = _secure!.Changed;
            }
        }

        return response;
    }

    /// <summary>
    /// Test seam: runs on the ticker's thread just before the final SecAgg reconstruction, outside the lock (a test
    /// blocks here to hold a round in its reconstruction).
    /// </summary>
    internal Action? BeforeReconstruction { get; set; }

    /// <summary>
    /// Runs the final SecAgg reconstruction (Shamir recovery, mask expansion, unmasking: up to seconds at n = 500 with
    /// dropouts) without holding the lock, so FetchTask, FetchModel, GetStatus and SecAgg polls are answered meanwhile;
    /// then commits it under the lock, only if the coordinator's round and the secure round are still the ones it was
    /// computed for. Returns true when it was committed (the round's outcome is then ready for <see cref="PollSecure"/>).
    /// </summary>
    private bool ReconstructOutsideLock(SecAggReconstruction reconstruction)
    {
        BeforeReconstruction?.Invoke();
        reconstruction.Run();
        lock (_gate)
        {
            if (_coordinator.Current?.Round == reconstruction.Round && _secure!.Commit(reconstruction))
            {
                return true;
            }

            LogStaleReconstruction(reconstruction.Round);
            return false;
        }
    }

    /// <summary>Sets up the secure round the coordinator just started (a round that cannot be set up fails at the next poll).</summary>
    private void BeginSecure(RoundTicket ticket) =>
        _secure!.Begin(ticket, _coordinator.Layout.TotalLength, id => _store.FindClientKey(id), _options.Rounds.Privacy is null ? null : _coordinator.ClientClipNorm);

    /// <summary>Advances the running secure round; completes the coordinator's round when the protocol has finished.</summary>
    private RoundResult? PollSecure()
    {
        var current = _coordinator.Current;
        if (current is null || _secure!.Poll() is not { } outcome)
        {
            return null;
        }

        if (outcome.FailureReason is { } reason)
        {
            LogSecAggAborted(current.Round, reason);
        }

        return _coordinator.CompleteSecure(current.Round, outcome);
    }

    /// <summary>After a secure round is stored: records who is in the sum (their sample counts stay hidden).</summary>
    private void RecordSecureContributors(RoundResult result)
    {
        int arrival = 0;
        foreach (var (clientId, _) in result.Accepted)
        {
            _store.RecordSubmission(result.Round, clientId, true, "in the secure sum", null, arrival++, null, _clock.UtcNow);
        }
    }

    /// <summary>
    /// A secure round cannot resume after a restart (the clients' protocol secrets and the server's collected messages
    /// are gone, by design never written to disk): it is recorded as failed, and the next round reruns it from the
    /// same model.
    /// </summary>
    private void AbortInterruptedSecureRound(RoundTicket ticket)
    {
        _coordinator.Restore(ticket, [], []);
        var result = _coordinator.CompleteSecure(ticket.Round, new SecureRoundOutcome([], null, 0, [],
            "secure aggregation was interrupted by a server restart; the round is aborted and the next round reruns it from the same model"));
        _store.CompleteRound(result, _coordinator.Ledger, _coordinator.ExportServerState());
        _completedRounds = result.Round + 1;
        LogSecAggAborted(ticket.Round, result.FailureReason!);
    }

    /// <summary>The SecAgg part of a TRAIN task, or null when <paramref name="clientId"/> should not start now.</summary>
    private bool TryAddSecureSetup(string clientId, Wire.V1.RoundTask task)
    {
        if (_secure?.SetupFor(clientId) is not { } setup)
        {
            return false;
        }

        task.SecureAggregation = setup;
        task.DeadlineUnixMs = _secure.AdvertiseDeadline!.Value.ToUnixTimeMilliseconds();
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Round {Round}: the secure-aggregation result was computed for a round that is no longer running; discarded")]
    private partial void LogStaleReconstruction(long round);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Round {Round}: {Reason}")]
    private partial void LogSecAggAborted(long round, string reason);
}
