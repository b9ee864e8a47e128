namespace Confide.SecureAggregation;

/// <summary>Why Shamir shares could not be used.</summary>
public enum SecretSharingError
{
    /// <summary>Fewer shares than the threshold.</summary>
    TooFewShares,

    /// <summary>Two shares carry the same evaluation point x.</summary>
    DuplicateX,

    /// <summary>Shares disagree on the secret length or the number of field elements.</summary>
    LengthMismatch,

    /// <summary>The shares do not lie on one polynomial of degree below the threshold, or decode to an impossible secret.</summary>
    Inconsistent,

    /// <summary>A share holds a value outside the field, an x outside 1..p−1, or a malformed encoding.</summary>
    MalformedShare,
}
