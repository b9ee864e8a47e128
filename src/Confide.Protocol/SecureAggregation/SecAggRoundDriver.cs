using Confide.Randomness;
using Confide.Time;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Runs the server side of one networked secure-aggregation round (Bonawitz et al. 2017, "Practical Secure Aggregation
/// for Privacy-Preserving Machine Learning", CCS, Figure 4; SecAgg+ neighbourhoods of Bell et al. 2020) against a clock:
/// it owns a <see cref="SecAggServer"/> and closes each stage at its deadline (<see cref="SecAggStageDeadlines"/>) or as
/// soon as every client still in the round has sent its message for it. Clients that miss a stage are dropouts of that
/// stage. When too few survive, the round aborts and <see cref="AbortReason"/> names the stage and the counts.
/// </summary>
/// <remarks>
/// <para>Sans-IO: the host delivers client messages with <see cref="Receive"/>, calls <see cref="Poll"/> periodically,
/// and hands each client <see cref="MessageFor"/> when it asks for its next input. Time comes from the injected clock.</para>
/// <para>A stage closes at its deadline even when nobody calls <see cref="Poll"/>: <see cref="Receive"/> and
/// <see cref="MessageFor"/> poll first, so a late message is refused as out of stage.</para>
/// <para>Not thread-safe: the host serialises calls. The final reconstruction runs inside the <see cref="Poll"/> that
/// closes Unmasking, unless <see cref="DefersReconstruction"/> is set: then that <see cref="Poll"/> only begins it
/// (<see cref="PendingReconstruction"/>), the host runs it outside its lock, and <see cref="CompleteReconstruction"/>
/// commits it.</para>
/// </remarks>
public sealed class SecAggRoundDriver
{
    private readonly SecAggServer _server;
    private readonly SecAggStageDeadlines _deadlines;
    private readonly ISystemClock _clock;
    private readonly int _n;
    private readonly bool[] _expected;
    private readonly bool[] _sent;
    private readonly SecAggServerMessage?[] _outbox;
    private readonly SecAggStage?[] _droppedAt;
    private readonly List<SecAggStageReport> _reports = [];
    private SecAggReconstruction? _pending;

    /// <param name="session">The public round parameters shared with the clients.</param>
    /// <param name="deadlines">How long each stage waits.</param>
    /// <param name="clock">The clock deadlines are measured against; the round starts now.</param>
    /// <param name="random">Randomness for the server's Shamir consistency checks.</param>
    public SecAggRoundDriver(SecAggSession session, SecAggStageDeadlines deadlines, ISystemClock clock, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(deadlines);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(random);
        Session = session;
        _server = new SecAggServer(session, random);
        _deadlines = deadlines;
        _clock = clock;
        _n = session.Options.ClientCount;
        _expected = new bool[_n];
        Array.Fill(_expected, true);
        _sent = new bool[_n];
        _outbox = new SecAggServerMessage?[_n];
        _droppedAt = new SecAggStage?[_n];
        StartedAt = clock.UtcNow;
        StageDeadline = StartedAt + deadlines.AdvertiseKeys;
    }

    /// <summary>
    /// When true, closing Unmasking leaves the reconstruction to the host (<see cref="PendingReconstruction"/>) instead
    /// of running it inside <see cref="Poll"/>. False by default.
    /// </summary>
    public bool DefersReconstruction { get; init; }

    /// <summary>The reconstruction to run, while Unmasking is closed and its outcome not committed; else null.</summary>
    public SecAggReconstruction? PendingReconstruction => _server.IsReconstructing ? _pending : null;

    /// <summary>True while a deferred reconstruction is pending: no stage is open and the round has not finished.</summary>
    public bool IsReconstructing => _server.IsReconstructing;

    /// <summary>Clients whose message the open stage waits for (0 once the round finished or is reconstructing).</summary>
    public int ExpectedInStage => IsFinished || IsReconstructing ? 0 : _expected.Count(e => e);

    /// <summary>Clients whose message for the open stage has been accepted (0 once the round finished or is reconstructing).</summary>
    public int ReceivedInStage => IsFinished || IsReconstructing ? 0 : _sent.Count(e => e);

    /// <summary>The session this round runs.</summary>
    public SecAggSession Session { get; }

    /// <summary>When the round started.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The stage whose client messages are accepted now, or a terminal stage.</summary>
    public SecAggStage Stage => _server.Stage;

    /// <summary>When the current stage closes at the latest (meaningless once terminal).</summary>
    public DateTimeOffset StageDeadline { get; private set; }

    /// <summary>True once the round completed or aborted.</summary>
    public bool IsFinished => SecAggStages.IsTerminal(Stage);

    /// <summary>The sum and survivor list, once <see cref="Stage"/> is <see cref="SecAggStage.Completed"/>; else null.</summary>
    public SecAggResult? Result => Stage == SecAggStage.Completed ? _server.Result : null;

    /// <summary>Why the round aborted (stage, counts and the protocol's reason), or null.</summary>
    public string? AbortReason { get; private set; }

    /// <summary>The stage the round aborted in, or null.</summary>
    public SecAggStage? AbortedInStage { get; private set; }

    /// <summary>One report per closed stage, in order.</summary>
    public IReadOnlyList<SecAggStageReport> Reports => _reports;

    /// <summary>The stage <paramref name="client"/> dropped out of, or null while it is still in (or finished).</summary>
    public SecAggStage? DroppedAt(int client)
    {
        CheckClient(client);
        return _droppedAt[client];
    }

    /// <summary>True when <paramref name="client"/> has sent its message for the current stage.</summary>
    public bool HasSent(int client)
    {
        CheckClient(client);
        return _sent[client];
    }

    /// <summary>
    /// Accepts one client message for the current stage, or throws a <see cref="SecAggProtocolException"/> and changes
    /// nothing: <see cref="SecAggOutOfOrderException"/> for another stage (or after the deadline),
    /// <see cref="SecAggNotInRoundException"/> from a dropout, and the <see cref="SecAggServer"/>'s refusals otherwise.
    /// When it is the last message the stage waits for, the stage closes before this returns.
    /// </summary>
    public void Receive(SecAggClientMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Poll();
        int u = message.Sender;
        if (message.Stage == Stage && (uint)u < (uint)_n && _droppedAt[u] is SecAggStage dropped)
        {
            throw new SecAggNotInRoundException(Stage, u, dropped,
                $"Client {u} is no longer in the round: it sent nothing for stage {dropped} before that stage closed.");
        }

        _server.Receive(message);
        _sent[u] = true;

        // The last expected message closes the stage at once, so its sender can be answered without waiting for a poll.
        Poll();
    }

    /// <summary>
    /// The server message that <paramref name="client"/> needs to produce its message for the current stage, or null when
    /// there is none (it has already sent it, the round is in AdvertiseKeys, it dropped out, or the round is over).
    /// </summary>
    public SecAggServerMessage? MessageFor(int client)
    {
        CheckClient(client);
        Poll();
        return IsFinished || _sent[client] || !_expected[client] ? null : _outbox[client];
    }

    /// <summary>
    /// Closes the current stage when its deadline has passed or every client still in has sent its message, and opens
    /// the next one. Returns true when a stage closed (the round may now be finished).
    /// </summary>
    public bool Poll()
    {
        // While a deferred reconstruction is pending no stage is open, so no deadline applies.
        if (IsFinished || IsReconstructing)
        {
            return false;
        }

        DateTimeOffset now = _clock.UtcNow;
        int expected = 0, received = 0;
        for (int u = 0; u < _n; u++)
        {
            if (_expected[u])
            {
                expected++;
                if (_sent[u])
                {
                    received++;
                }
            }
        }

        bool allIn = received == expected;
        if (!allIn && now <= StageDeadline)
        {
            return false;
        }

        SecAggStage stage = Stage;
        var dropped = new List<int>();
        for (int u = 0; u < _n; u++)
        {
            if (_expected[u] && !_sent[u])
            {
                dropped.Add(u);
                _droppedAt[u] = stage;
            }
        }

        _reports.Add(new SecAggStageReport(stage, expected, received, dropped, now, !allIn));
        IReadOnlyList<SecAggServerMessage> next;
        try
        {
            if (stage == SecAggStage.Unmasking && DefersReconstruction)
            {
                _pending = _server.BeginReconstruction();
                next = [];
            }
            else
            {
                next = _server.CloseStage();
            }
        }
        catch (SecAggProtocolException ex)
        {
            SetAborted(_reports[^1], ex);
            return true;
        }

        Array.Clear(_expected);
        Array.Clear(_sent);
        Array.Clear(_outbox);
        foreach (SecAggServerMessage message in next)
        {
            _expected[message.Recipient] = true;
            _outbox[message.Recipient] = message;
        }

        // Clients the server did not carry forward (for example one that sent its keys but whose neighbourhood left it
        // without share holders) count as dropouts of the stage that just closed.
        if (!IsFinished && !IsReconstructing)
        {
            for (int u = 0; u < _n; u++)
            {
                if (!_expected[u] && _droppedAt[u] is null)
                {
                    _droppedAt[u] = stage;
                }
            }

            StageDeadline = now + _deadlines.For(Stage);
        }

        return true;
    }

    /// <summary>
    /// Commits <paramref name="reconstruction"/> (from <see cref="PendingReconstruction"/>, run since): the round
    /// completes with its sum, or aborts when the shares did not reconstruct. Returns false, and changes nothing, when it
    /// is stale: the round was aborted in between, or it is not this round's reconstruction.
    /// </summary>
    public bool CompleteReconstruction(SecAggReconstruction reconstruction)
    {
        ArgumentNullException.ThrowIfNull(reconstruction);
        if (!ReferenceEquals(reconstruction, _pending))
        {
            return false;
        }

        try
        {
            if (!_server.CompleteReconstruction(reconstruction))
            {
                return false;
            }
        }
        catch (SecAggProtocolException ex)
        {
            SetAborted(_reports[^1], ex);
        }

        _pending = null;
        return true;
    }

    /// <summary>Abandons the round with <paramref name="reason"/> (for example when the host shuts down).</summary>
    public void Abort(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        if (!IsFinished)
        {
            AbortedInStage = Stage;
            AbortReason = $"secure aggregation aborted in stage {Stage}: {reason}";
            _server.Abort(reason);
            Array.Clear(_outbox);
        }
    }

    private void SetAborted(SecAggStageReport closing, SecAggProtocolException ex)
    {
        AbortedInStage = closing.Stage;
        AbortReason = $"secure aggregation aborted in stage {closing.Stage}: {closing.Received} of {closing.Expected} clients still in the round sent their message" +
            $"{(closing.ByDeadline ? " before the deadline" : "")}; {ex.Message}";
        Array.Clear(_outbox);
    }

    private void CheckClient(int client)
    {
        if ((uint)client >= (uint)_n)
        {
            throw new ArgumentOutOfRangeException(nameof(client), client, $"Client ids run from 0 to {_n - 1}.");
        }
    }
}
