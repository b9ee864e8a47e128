using System.CommandLine;

namespace Confide.Cli.Tests;

/// <summary>Runs the CLI in-process with captured output.</summary>
internal static class CliRunner
{
    private static readonly object Gate = new();

    public static (int ExitCode, string StdOut, string StdErr) Run(params string[] args)
    {
        // Console redirection is process-wide, so CLI tests take turns.
        lock (Gate)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                var root = new RootCommand("confide");
                CliRoot.AddCommands(root);
                int code = CliRoot.Run(root, args);
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
