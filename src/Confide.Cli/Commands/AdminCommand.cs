using System.CommandLine;
using Confide.Randomness;
using Confide.Server;

namespace Confide.Cli.Commands;

/// <summary><c>confide admin token</c>: issues one-time enrollment tokens into a server's state folder.</summary>
internal static class AdminCommand
{
    public static Command Create()
    {
        var command = new Command("admin", "Administer a federation server's state folder.");
        var state = new Option<string>("--state") { Description = "The server's state folder.", Required = true };
        var count = new Option<int>("--count") { Description = "How many tokens to issue.", DefaultValueFactory = _ => 1 };
        var token = new Command("token", "Issue one-time enrollment tokens (printed once, stored only as SHA-256 hashes).");
        token.Options.Add(state);
        token.Options.Add(count);
        token.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n is < 1 or > 10_000)
            {
                throw new CliException($"--count must be between 1 and 10000; got {n}.", 2);
            }

            using var store = StateStore.Open(parse.GetValue(state)!);
            for (int i = 0; i < n; i++)
            {
                Console.Out.WriteLine(store.IssueToken(CryptoRandomSource.Instance, DateTimeOffset.UtcNow));
            }

            return 0;
        });
        command.Subcommands.Add(token);
        return command;
    }
}
