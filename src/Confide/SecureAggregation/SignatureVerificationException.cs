using System.Security.Cryptography;

namespace Confide.SecureAggregation;

/// <summary>A signature did not verify under the claimed identity key, purpose and message.</summary>
public sealed class SignatureVerificationException : CryptographicException
{
    public SignatureVerificationException()
        : base("The signature does not verify.")
    {
    }

    public SignatureVerificationException(string message)
        : base(message)
    {
    }

    public SignatureVerificationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
