using System.CommandLine;
using Confide.Cli.Commands;

namespace Confide.Cli;

/// <summary>Builds the command tree and turns every expected failure into a one-line error.</summary>
internal static class CliRoot
{
    /// <summary>Adds every command group to the root.</summary>
    public static void AddCommands(RootCommand root)
    {
        root.Subcommands.Add(VersionCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(AggregateCommand.Create());
        root.Subcommands.Add(PrivacyCommand.Create());
        root.Subcommands.Add(SecAggCommand.Create());
        root.Subcommands.Add(SimulateCommand.Create());
        root.Subcommands.Add(ServerCommand.Create());
        root.Subcommands.Add(ClientCommand.Create());
        root.Subcommands.Add(AdminCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
    }

    /// <summary>
    /// Parses and runs. A <see cref="CliException"/> or any <see cref="ArgumentException"/>,
    /// <see cref="InvalidDataException"/> or <see cref="IOException"/> becomes "confide: error: …" on stderr,
    /// with no stack trace, and a non-zero exit code.
    /// </summary>
    public static int Run(RootCommand root, string[] args)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(config);
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            Console.Error.WriteLine($"confide: error: {OneLine(ex.Message)}");
            return ex is CliException cli ? cli.ExitCode : 1;
        }
    }

    private static bool IsUserError(Exception ex) =>
        ex is CliException or ArgumentException or InvalidDataException or IOException or InvalidOperationException
            or FormatException or UnauthorizedAccessException or NotSupportedException;

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
