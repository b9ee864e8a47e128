namespace Confide.SecureAggregation;

/// <summary>
/// What every derived key, signature and ciphertext of one secure-aggregation round is bound to: the session id
/// (public, unique per session, 16 to 64 bytes; random from a CSPRNG) and the round number.
/// </summary>
public sealed class SecAggContext
{
    /// <summary>The shortest accepted session id.</summary>
    public const int MinSessionIdLength = 16;

    /// <summary>The longest accepted session id.</summary>
    public const int MaxSessionIdLength = 64;

    private readonly byte[] _sessionId;

    /// <summary>Binds <paramref name="sessionId"/> (copied) and <paramref name="round"/>.</summary>
    /// <exception cref="ArgumentException">The session id is shorter than 16 or longer than 64 bytes, or the round is negative.</exception>
    public SecAggContext(ReadOnlySpan<byte> sessionId, long round)
    {
        if (sessionId.Length is < MinSessionIdLength or > MaxSessionIdLength)
        {
            throw new ArgumentException($"A session id must be {MinSessionIdLength} to {MaxSessionIdLength} bytes; got {sessionId.Length}.", nameof(sessionId));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(round);
        _sessionId = sessionId.ToArray();
        Round = round;
    }

    /// <summary>The session id.</summary>
    public ReadOnlySpan<byte> SessionId => _sessionId;

    /// <summary>The round number.</summary>
    public long Round { get; }

    /// <summary>The same session in another round.</summary>
    public SecAggContext WithRound(long round) => new(_sessionId, round);

    /// <inheritdoc/>
    public override string ToString() => $"SecAggContext(session {Convert.ToHexString(_sessionId.AsSpan(0, 4))}…, round {Round})";
}
