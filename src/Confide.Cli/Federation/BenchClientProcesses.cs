using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confide.Client;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Cli.Federation;

/// <summary>
/// Runs the benchmark's clients in child processes (<c>confide bench federation clients</c>, hidden), so that the
/// server process's peak memory and CPU are its own. Enrollment tokens go to a child on its standard input, never on
/// its command line; each child prints one JSON line with its CPU seconds and peak working set when its run ends.
/// </summary>
internal static class BenchClientProcesses
{
    /// <summary>One child's figures; <paramref name="Cpu"/> holds its CPU timeline as [Unix ms, CPU seconds] pairs.</summary>
    public sealed record ChildReport(int Clients, double CpuSeconds, double PeakWorkingSetMb, IReadOnlyList<double[]>? Cpu = null)
    {
        /// <summary>The timeline in the form <see cref="CpuTimeline.Between"/> takes.</summary>
        public IReadOnlyList<(long UnixMs, double CpuSeconds)> Timeline => Cpu is null ? [] : [.. Cpu.Select(p => ((long)p[0], p[1]))];
    }

    /// <summary>Starts <paramref name="processes"/> children sharing <paramref name="tokens"/> between them.</summary>
    public static List<Process> Start(int processes, IReadOnlyList<string> tokens, Uri server, string? fingerprint, int parameters, string state)
    {
        var children = new List<Process>();
        int start = 0;
        for (int p = 0; p < processes; p++)
        {
            int count = (tokens.Count / processes) + (p < tokens.Count % processes ? 1 : 0);
            var info = ChildStartInfo(["clients", "--server", server.ToString(), "--params", parameters.ToString(CultureInfo.InvariantCulture), "--first", start.ToString(CultureInfo.InvariantCulture), "--state", state]);
            info.RedirectStandardInput = true;

            if (fingerprint is null)
            {
                info.ArgumentList.Add("--insecure");
            }
            else
            {
                info.ArgumentList.Add("--fingerprint");
                info.ArgumentList.Add(fingerprint);
            }

            var child = Process.Start(info) ?? throw new CliException("could not start a benchmark client process.", 1);
            children.Add(child);
            foreach (string token in tokens.Skip(start).Take(count))
            {
                child.StandardInput.WriteLine(token);
            }

            child.StandardInput.Close();
            start += count;
        }

        return children;
    }

    /// <summary>
    /// How to start this program as <c>confide bench federation</c> followed by <paramref name="arguments"/> in a child
    /// process, with its output and error streams redirected (the same host that runs this process, when known).
    /// </summary>
    public static ProcessStartInfo ChildStartInfo(IEnumerable<string> arguments)
    {
        // A native AOT build has no assembly file (AppContext.BaseDirectory holds the executable): it starts itself.
        string assembly = Path.Combine(AppContext.BaseDirectory, typeof(BenchClientProcesses).Assembly.GetName().Name + ".dll");
        bool native = !File.Exists(assembly);
        string host = native
            ? Environment.ProcessPath ?? throw new CliException("cannot find this program's executable to start the client processes.", 1)
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (native ? new[] { "bench", "federation" } : [assembly, "bench", "federation"]).Concat(arguments))
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>Waits for the children and reads their reports; throws with a child's error output if one failed.</summary>
    public static async Task<List<ChildReport>> CollectAsync(List<Process> children, CancellationToken cancellationToken)
    {
        var reports = new List<ChildReport>();
        foreach (var child in children)
        {
            var output = child.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = child.StandardError.ReadToEndAsync(cancellationToken);
            await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            string stdout = await output.ConfigureAwait(false);
            if (child.ExitCode != 0)
            {
                throw new CliException($"a benchmark client process failed ({child.ExitCode}): {(await errors.ConfigureAwait(false)).Trim()}", 1);
            }

            string last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            reports.Add(JsonSerializer.Deserialize(last, CliJsonContext.Default.ChildReport) ?? throw new CliException("a benchmark client process printed no report.", 1));
            child.Dispose();
        }

        return reports;
    }

    /// <summary>The hidden <c>clients</c> subcommand a child runs.</summary>
    public static Command CreateCommand(Func<int, ILocalTrainer> trainer)
    {
        var server = new Option<string>("--server") { Required = true };
        var fingerprint = new Option<string?>("--fingerprint");
        var insecure = new Option<bool>("--insecure");
        var parameters = new Option<int>("--params") { Required = true };
        var first = new Option<int>("--first");
        var state = new Option<string>("--state") { Required = true };
        var command = new Command("clients", "Runs benchmark clients for `bench federation --client-processes` (internal).") { Hidden = true };
        foreach (var o in new Option[] { server, fingerprint, insecure, parameters, first, state })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            using var timeline = new CpuTimeline();
            var address = new Uri(parse.GetValue(server)!);
            var options = parse.GetValue(insecure)
                ? new FederationClientOptions(address, null, insecure: true)
                : new FederationClientOptions(address, parse.GetValue(fingerprint));
            options = options with { CallTimeout = TimeSpan.FromMinutes(5), TransferTimeout = TimeSpan.FromMinutes(30) };
            var tokens = new List<string>();
            while (await Console.In.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.Length > 0)
                {
                    tokens.Add(line);
                }
            }

            int index = parse.GetValue(first);
            var owned = new List<IDisposable>();
            try
            {
                var participants = new List<FederatedParticipant>();
                foreach (string token in tokens)
                {
                    var key = IdentityKeyPair.Generate(CryptoRandomSource.Instance);
                    owned.Add(key);
                    var client = new FederationClient(options, key);
                    owned.Add(client);
                    await client.EnrollAsync(token, cancellationToken: cancellationToken);
                    participants.Add(new FederatedParticipant(client, trainer(index), ParticipantProgress.Load(Path.Combine(parse.GetValue(state)!, $"p{index}.progress"))));
                    index++;
                }

                await Task.WhenAll(participants.Select(p => Task.Run(() => p.RunAsync(cancellationToken), cancellationToken)));
            }
            finally
            {
                owned.ForEach(o => o.Dispose());
            }

            var process = Process.GetCurrentProcess();
            var cpu = timeline.Samples.Select(s => new[] { s.UnixMs, s.CpuSeconds }).ToList();
            Console.Out.WriteLine(JsonSerializer.Serialize(new ChildReport(tokens.Count, process.TotalProcessorTime.TotalSeconds, process.PeakWorkingSet64 / 1e6, cpu), CliJsonContext.Default.ChildReport));
            return 0;
        });
        return command;
    }
}
