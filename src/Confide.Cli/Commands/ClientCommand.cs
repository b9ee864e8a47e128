using System.CommandLine;
using System.Globalization;
using Confide.Cli.Federation;
using Confide.Client;
using Confide.Randomness;
using Microsoft.Extensions.Logging;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide client</c>: enrolls (first run, with a token), then takes part in rounds of the built-in digits task
/// until the server says the run has finished.
/// </summary>
internal static class ClientCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "Server address, e.g. https://fl.example.org:7443.", Required = true };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "The server certificate's SHA-256 fingerprint, as the server printed it." };
        var insecure = new Option<bool>("--insecure") { Description = "Plain HTTP/2 without TLS (loopback servers only)." };
        var key = new Option<string>("--key") { Description = "Identity key file (created with mode 0600 if absent).", Required = true };
        var progress = new Option<string?>("--progress") { Description = "Progress file (client id, last submitted round; a second slot is kept beside it with .b appended); default: <key>.progress." };
        var token = new Option<string?>("--token") { Description = "One-time enrollment token (first run only)." };
        var label = new Option<string>("--label") { Description = "A label operators see.", DefaultValueFactory = _ => "" };
        var shard = new Option<string>("--shard") { Description = "Which IID shard of the built-in digits data this client holds, as i/n.", DefaultValueFactory = _ => "0/1" };
        var seed = new Option<ulong>("--data-seed") { Description = "Seed of the shard split (the same on every client).", DefaultValueFactory = _ => 1 };
        var minNoise = new Option<double?>("--dp-min-noise")
        {
            Description = "Require distributed DP in secure rounds: sit out any round whose client noise is below this noise multiplier z = √n_min·σ/Δ₂, or that asks for none (central DP trusts the server).",
        };

        var command = new Command("client", "Take part in a federated run: enroll, then fetch, train, sign and submit each round.");
        foreach (var o in new Option[] { server, fingerprint, insecure, key, progress, token, label, shard, seed, minNoise })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var (i, n) = ParseShard(parse.GetValue(shard)!);
            var data = DigitsFederation.Shard(i, n, parse.GetValue(seed));
            string keyPath = parse.GetValue(key)!;
            using var signingKey = ClientKeyFile.LoadOrCreate(keyPath, CryptoRandomSource.Instance, out bool created);
            if (created)
            {
                Console.Out.WriteLine($"created identity key {keyPath} (mode 0600)");
            }

            var state = ParticipantProgress.Load(parse.GetValue(progress) ?? keyPath + ".progress");
            var options = new FederationClientOptions(new Uri(parse.GetValue(server)!), parse.GetValue(fingerprint), parse.GetValue(insecure));
            using var client = new FederationClient(options, signingKey, state.ClientId);
            if (state.ClientId is null)
            {
                string t = parse.GetValue(token) ?? throw new CliException("This client is not enrolled yet: pass --token with a token from `confide admin token`.", 2);
                state.SetClientId(await client.EnrollAsync(t, parse.GetValue(label)!, cancellationToken));
                Console.Out.WriteLine($"enrolled as {state.ClientId}");
            }

            using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
            var trainer = new SgdLocalTrainer(DigitsFederation.Model(), data, CryptoRandomSource.Instance);
            var participant = new FederatedParticipant(client, trainer, state, loggers.CreateLogger("Confide.Client")) { MinimumDistributedNoise = parse.GetValue(minNoise) };
            string reason = await participant.RunAsync(cancellationToken);
            Console.Out.WriteLine($"run finished ({reason}); this client submitted {participant.SubmittedRounds} rounds in this session");
            return 0;
        });
        return command;
    }

    private static (int Shard, int Shards) ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            throw new CliException($"--shard must look like i/n (e.g. 0/4); got '{text}'.", 2);
        }

        return (i, n);
    }
}
