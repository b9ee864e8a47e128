using System.Security.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>Shamir shares were malformed, too few, duplicated or inconsistent; <see cref="Error"/> says which.</summary>
public sealed class SecretSharingException : CryptographicException
{
    public SecretSharingException(SecretSharingError error, string message)
        : base(message)
    {
        Error = error;
    }

    public SecretSharingException()
        : this(SecretSharingError.MalformedShare, "Invalid Shamir shares.")
    {
    }

    public SecretSharingException(string message)
        : this(SecretSharingError.MalformedShare, message)
    {
    }

    public SecretSharingException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = SecretSharingError.MalformedShare;
    }

    /// <summary>The kind of failure.</summary>
    public SecretSharingError Error { get; }
}
