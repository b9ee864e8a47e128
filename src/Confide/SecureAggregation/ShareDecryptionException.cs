using System.Security.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>
/// An encrypted share failed authentication: it was tampered with, addressed to another receiver, claimed another
/// sender, or belongs to another session or round. Its content must not be used.
/// </summary>
public sealed class ShareDecryptionException : CryptographicException
{
    public ShareDecryptionException()
        : base("The encrypted share failed authentication.")
    {
    }

    public ShareDecryptionException(string message)
        : base(message)
    {
    }

    public ShareDecryptionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
