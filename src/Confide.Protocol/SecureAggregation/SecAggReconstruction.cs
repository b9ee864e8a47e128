namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The server's last step of a secure-aggregation round (Bonawitz et al. 2017, "Practical Secure Aggregation for
/// Privacy-Preserving Machine Learning", CCS, Figure 4, round 4): Shamir recovery of the survivors' self-mask seeds and
/// of the dropped clients' mask keys, mask expansion and unmasking, split off the state machine so a host can run it
/// outside the lock that serialises its other calls.
/// </summary>
/// <remarks>
/// <para><see cref="SecAggServer.BeginReconstruction"/> closes Unmasking and hands this out; from then on the server
/// refuses every message and every further stage close, so the inputs this reads stay frozen. <see cref="Run"/> may be
/// called on any thread (a second call waits for the first and does nothing). <see cref="SecAggServer.CompleteReconstruction"/>,
/// called under the caller's serialisation again, commits the outcome, unless the round was aborted in between.</para>
/// <para>Holds no secret of its own: the inputs are the masked vectors and revealed shares the server already holds.</para>
/// </remarks>
public sealed class SecAggReconstruction
{
    private readonly Lock _gate = new();
    private readonly Func<SecAggResult> _compute;
    private volatile bool _done;

    internal SecAggReconstruction(SecAggServer owner, SecAggSession session, Func<SecAggResult> compute)
    {
        Owner = owner;
        SessionId = session.SessionId;
        Round = session.Round;
        _compute = compute;
    }

    /// <summary>The session this reconstruction belongs to.</summary>
    public string SessionId { get; }

    /// <summary>The round this reconstruction belongs to.</summary>
    public long Round { get; }

    /// <summary>True once <see cref="Run"/> has finished (with a sum or a protocol failure).</summary>
    public bool IsComplete => _done;

    internal SecAggServer Owner { get; }

    internal SecAggResult? Result { get; private set; }

    internal SecAggProtocolException? Failure { get; private set; }

    /// <summary>
    /// Computes the sum. A protocol failure (inconsistent or missing shares) is kept for
    /// <see cref="SecAggServer.CompleteReconstruction"/> to abort the round with; nothing is thrown for it here.
    /// </summary>
    public void Run()
    {
        lock (_gate)
        {
            if (_done)
            {
                return;
            }

            try
            {
                Result = _compute();
            }
            catch (SecAggProtocolException ex)
            {
                Failure = ex;
            }

            _done = true;
        }
    }
}
