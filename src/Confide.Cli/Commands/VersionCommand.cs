using System.CommandLine;
using System.Reflection;

namespace Confide.Cli.Commands;

/// <summary><c>confide version</c>.</summary>
internal static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "Print the version of confide.");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            Console.WriteLine($"confide {version}");
            return 0;
        });
        return command;
    }
}
