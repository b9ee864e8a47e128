using System.CommandLine;
using Confide.Cli.Federation;
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
        var ttl = new Option<string>("--ttl")
        {
            Description = "How long the tokens stay valid: a number with s, m, h or d (at most 365d).",
            DefaultValueFactory = _ => "24h",
        };
        var token = new Command("token", "Issue one-time enrollment tokens (printed once, stored only as SHA-256 hashes, valid for --ttl).");
        token.Options.Add(state);
        token.Options.Add(count);
        token.Options.Add(ttl);
        token.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n is < 1 or > 10_000)
            {
                throw new CliException($"--count must be between 1 and 10000; got {n}.", 2);
            }

            var lifetime = DurationText.Parse(parse.GetValue(ttl)!, "--ttl");
            if (lifetime > StateStore.MaxTokenLifetime)
            {
                throw new CliException($"--ttl may be at most {StateStore.MaxTokenLifetime.TotalDays:F0}d; got {parse.GetValue(ttl)}.", 2);
            }

            using var store = StateStore.Open(parse.GetValue(state)!);
            var now = DateTimeOffset.UtcNow;
            for (int i = 0; i < n; i++)
            {
                Console.Out.WriteLine(store.IssueToken(CryptoRandomSource.Instance, now, lifetime));
            }

            Console.Error.WriteLine($"valid until {(now + lifetime).UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");

            return 0;
        });
        command.Subcommands.Add(token);
        return command;
    }
}
