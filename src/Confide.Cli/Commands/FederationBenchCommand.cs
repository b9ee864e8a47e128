using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Confide.Aggregation;
using Confide.Client;
using Confide.Parameters;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Server;

namespace Confide.Cli.Commands;

/// <summary>
/// <c>confide bench federation</c>: one or more rounds of N in-process clients × D parameters against a real server on
/// loopback (TLS unless --insecure), reporting round latency, bytes moved, throughput, the process's peak working set
/// (server and clients share the process), and the time a plain loopback TCP socket takes to move the same bytes.
/// </summary>
internal static class FederationBenchCommand
{
    public static Command Create()
    {
        var clients = new Option<int>("--clients") { Description = "Clients (all sampled).", DefaultValueFactory = _ => 10 };
        var parameters = new Option<int>("--params") { Description = "Model parameters.", DefaultValueFactory = _ => 100_000 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds.", DefaultValueFactory = _ => 1 };
        var insecure = new Option<bool>("--insecure") { Description = "Plain HTTP/2 on loopback instead of TLS." };
        var secureAgg = new Option<bool>("--secure-agg") { Description = "Run the rounds through secure aggregation (SecAgg+ over the wire)." };
        var command = new Command("federation", "Measure networked rounds on loopback: N clients × D parameters through a real server.");
        foreach (var o in new Option[] { clients, parameters, rounds, insecure, secureAgg })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            int n = parse.GetValue(clients), d = parse.GetValue(parameters), r = parse.GetValue(rounds);
            if (n is < 1 or > 5000 || d is < 1 or > 50_000_000 || r is < 1 or > 100)
            {
                throw new CliException("--clients must be in 1..5000, --params in 1..50000000 and --rounds in 1..100.", 2);
            }

            string state = Path.Combine(Path.GetTempPath(), "confide-bench-" + Guid.NewGuid().ToString("N"));
            try
            {
                await RunAsync(n, d, r, parse.GetValue(insecure), parse.GetValue(secureAgg), state, cancellationToken);
            }
            finally
            {
                if (Directory.Exists(state))
                {
                    Directory.Delete(state, recursive: true);
                }
            }

            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int n, int d, int r, bool insecure, bool secureAgg, string state, CancellationToken cancellationToken)
    {
        var layout = ParameterLayout.Create(("weights", [d]));
        var options = new RoundOptions(r, ClientSampling.OfCount(n), TimeSpan.FromMinutes(30), n, new AggregatorSettings("fedavg"), maxSampleCount: 1_000_000);
        var serverOptions = new ServerOptions(state, options, ModelParameters.Zeros(layout))
        {
            Port = 0,
            Insecure = insecure,
            TickInterval = TimeSpan.FromMilliseconds(10),
            RetryAfter = TimeSpan.FromMilliseconds(50),
            RateLimits = null, // hundreds of clients enroll from one address here; the bench measures transfer, not limits
            SecureAggregation = secureAgg ? new SecureAggregationSettings(TimeSpan.FromMinutes(10)) { PollInterval = TimeSpan.FromMilliseconds(50) } : null,
        };
        await using var server = await ConfideServer.StartAsync(serverOptions, cancellationToken: cancellationToken);
        var keys = new List<IdentityKeyPair>();
        var participants = new List<FederatedParticipant>();
        var federationClients = new List<FederationClient>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                var key = IdentityKeyPair.Generate(CryptoRandomSource.Instance);
                keys.Add(key);
                var clientOptions = insecure
                    ? new FederationClientOptions(server.Address, null, insecure: true)
                    : new FederationClientOptions(server.Address, server.CertificateFingerprint);
                var client = new FederationClient(clientOptions with { CallTimeout = TimeSpan.FromMinutes(5), TransferTimeout = TimeSpan.FromMinutes(30) }, key);
                federationClients.Add(client);
                await client.EnrollAsync(server.IssueToken(), cancellationToken: cancellationToken);
                participants.Add(new FederatedParticipant(client, new ConstantStepTrainer(i), ParticipantProgress.Load(Path.Combine(state, $"p{i}.progress"))));
            }

            long modelBytes = Safetensors.Write(ModelParameters.Zeros(layout)).Length;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(participants.Select(p => Task.Run(() => p.RunAsync(cancellationToken), cancellationToken)));
            await server.Finished;
            clock.Stop();

            var stored = server.Store.ListRounds();
            double perRound = stored.Average(s => (s.CompletedAt!.Value - s.StartedAt).TotalSeconds);
            long moved = 2L * n * modelBytes * r;
            double raw = RawLoopbackSeconds(2L * n * modelBytes);
            var process = Process.GetCurrentProcess();
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"clients {n}, params {d:N0}, rounds {r}, {(insecure ? "h2c" : "TLS")} on loopback{(secureAgg ? ", secure aggregation" : "")}"));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round latency (server start→aggregate, mean): {perRound:F2} s; whole run incl. polling: {clock.Elapsed.TotalSeconds:F2} s"));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bytes moved (models down + updates up): {moved / 1e6:F1} MB; throughput {moved / 1e6 / (perRound * r):F1} MB/s"));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw loopback TCP for one round's bytes: {raw:F2} s; ratio round/raw {perRound / raw:F1}×"));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak working set of the process (server and all clients): {process.PeakWorkingSet64 / 1e6:F0} MB"));
        }
        finally
        {
            foreach (var c in federationClients)
            {
                c.Dispose();
            }

            foreach (var k in keys)
            {
                k.Dispose();
            }
        }
    }

    /// <summary>Seconds to push <paramref name="bytes"/> through one loopback TCP connection (the floor for the transfer).</summary>
    private static double RawLoopbackSeconds(long bytes)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var receive = Task.Run(() =>
        {
            using var socket = listener.AcceptSocket();
            var buffer = new byte[1 << 20];
            long total = 0;
            int read;
            while ((read = socket.Receive(buffer)) > 0)
            {
                total += read;
            }

            return total;
        });
        var clock = Stopwatch.StartNew();
        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            sender.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            var chunk = new byte[1 << 20];
            for (long sent = 0; sent < bytes; sent += chunk.Length)
            {
                sender.Send(chunk, (int)Math.Min(chunk.Length, bytes - sent), SocketFlags.None);
            }

            sender.Shutdown(SocketShutdown.Send);
            receive.Wait();
        }

        clock.Stop();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>A trainer that costs nothing: it moves every weight by a small client-specific step.</summary>
    private sealed class ConstantStepTrainer(int index) : ILocalTrainer
    {
        public LocalTrainingResult Train(ModelParameters global, LocalTrainingSettings settings, long round, CancellationToken cancellationToken)
        {
            var trained = global.Clone();
            System.Numerics.Tensors.TensorPrimitives.Add(trained.AsSpan(), 0.001f * ((index % 7) - 3), trained.AsSpan());
            return new LocalTrainingResult(trained, 100, 0);
        }

        public LocalEvaluation? Evaluate(ModelParameters model) => null;
    }
}
