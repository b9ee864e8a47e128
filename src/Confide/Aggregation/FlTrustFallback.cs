namespace Confide.Aggregation;

/// <summary>What <see cref="FlTrust"/> does when every client's trust score is 0.</summary>
public enum FlTrustFallback
{
    /// <summary>Throw an <see cref="ArgumentException"/>: no client update can be trusted (the default).</summary>
    Throw = 0,

    /// <summary>Return the server's own root-data-set update.</summary>
    ServerUpdate = 1,

    /// <summary>Return a zero update, leaving the global model unchanged this round.</summary>
    ZeroUpdate = 2,
}
