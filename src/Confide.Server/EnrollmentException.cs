namespace Confide.Server;

/// <summary>An enrollment was refused: the token is unknown or already used, or the key is already enrolled.</summary>
public sealed class EnrollmentException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EnrollmentException()
    {
    }

    /// <summary>Creates the exception with a message saying why.</summary>
    public EnrollmentException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public EnrollmentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
