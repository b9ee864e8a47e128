namespace Confide.Aggregation;

/// <summary>Options for <see cref="FlTrust"/>.</summary>
public sealed record FlTrustOptions
{
    /// <summary>
    /// What to do when every trust score is 0 (every client update points away from, or is orthogonal to, the server
    /// update, or is zero). The default, <see cref="FlTrustFallback.Throw"/>, makes it an error.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="FlTrustFallback"/>.</exception>
    public FlTrustFallback AllZeroTrustFallback
    {
        get;
        init
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Expected Throw, ServerUpdate or ZeroUpdate.");
            }

            field = value;
        }
    }
}
