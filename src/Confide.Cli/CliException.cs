namespace Confide.Cli;

/// <summary>An expected failure that the CLI reports as one line, with no stack trace.</summary>
internal sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    /// <summary>The process exit code: 1 for a failed operation, 2 for bad usage.</summary>
    public int ExitCode { get; } = exitCode;
}
