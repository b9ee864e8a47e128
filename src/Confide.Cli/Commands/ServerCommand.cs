using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Confide.Aggregation;
using Confide.Cli.Federation;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Server;
using Microsoft.Extensions.Logging;

namespace Confide.Cli.Commands;

/// <summary><c>confide server</c>: runs a federation server until the run finishes (or Ctrl+C / SIGTERM).</summary>
internal static class ServerCommand
{
    public static Command Create()
    {
        var state = new Option<string>("--state") { Description = "State folder (database, checkpoints, certificate).", Required = true };
        var listen = new Option<string>("--listen") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 picks a free one).", DefaultValueFactory = _ => 7443 };
        var insecure = new Option<bool>("--insecure") { Description = "Serve plain HTTP/2 without TLS (loopback only)." };
        var cert = new Option<string?>("--cert") { Description = "A PKCS#12 certificate to serve instead of the generated self-signed one." };
        var certPassword = new Option<string?>("--cert-password") { Description = "Password of --cert." };
        var hosts = new Option<string[]>("--host") { Description = "Host name or IP for the generated certificate (repeatable).", AllowMultipleArgumentsPerToken = true };
        var initial = new Option<string?>("--initial-model") { Description = "Initial model (safetensors); default: softmax regression for the built-in digits task." };
        var rounds = new Option<long>("--rounds") { Description = "Rounds to run.", DefaultValueFactory = _ => 10 };
        var perRound = new Option<int?>("--clients-per-round") { Description = "Clients sampled per round (a count)." };
        var fraction = new Option<double?>("--fraction") { Description = "Fraction of connected clients sampled per round (instead of a count)." };
        var minClients = new Option<int>("--min-clients") { Description = "With --fraction: the fewest clients a round samples.", DefaultValueFactory = _ => 2 };
        var minUpdates = new Option<int?>("--min-updates") { Description = "Accepted updates needed to aggregate (default: the sample size or minimum)." };
        var deadline = new Option<double>("--deadline") { Description = "Seconds a round collects updates.", DefaultValueFactory = _ => 60 };
        var aggregator = new Option<string>("--aggregator") { Description = $"Aggregator: {string.Join(", ", AggregatorCatalog.Methods)}.", DefaultValueFactory = _ => "fedavg" };
        var byzantine = new Option<int>("--byzantine") { Description = "f, the number of Byzantine clients tolerated (krum, multi-krum, bulyan)." };
        var serverLr = new Option<double>("--server-lr") { Description = "Server learning rate η.", DefaultValueFactory = _ => 1.0 };
        var maxNorm = new Option<double?>("--max-update-norm") { Description = "Reject updates whose L2 norm exceeds this." };
        var maxSamples = new Option<long>("--max-sample-count")
        {
            Description = "The largest sample count (FedAvg weight) an update may claim; with --secure-agg a lower bound leaves room for a finer quantizer scale.",
            DefaultValueFactory = _ => 1_000_000,
        };
        var epochs = new Option<int>("--epochs") { Description = "Local epochs asked of clients.", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Local batch size.", DefaultValueFactory = _ => 32 };
        var lr = new Option<double>("--lr") { Description = "Local learning rate.", DefaultValueFactory = _ => 0.1 };
        var dpNoise = new Option<double?>("--dp-noise") { Description = "DP-FedAvg noise multiplier z (enables DP). With --dp-mode distributed the clients' noise together matches z (optional there: without it the noise is calibrated to --epsilon)." };
        var dpClip = new Option<double>("--dp-clip") { Description = "DP-FedAvg clip norm C.", DefaultValueFactory = _ => 1.0 };
        var dpClientClip = new Option<bool>("--dp-client-clip") { Description = "Clients clip their own updates (the server still checks; required with --secure-agg). With --dp-adaptive-quantile each client also reports whether its update norm was at most C." };
        var population = new Option<long?>("--population") { Description = "DP: the client population N (sampling rate q = clients per round / N)." };
        var epsilon = new Option<double>("--epsilon") { Description = "DP: the ε budget; the run stops before exceeding it.", DefaultValueFactory = _ => 8 };
        var delta = new Option<double>("--delta") { Description = "DP: δ.", DefaultValueFactory = _ => 1e-5 };
        var linger = new Option<double>("--linger") { Description = "Seconds to keep answering after the run finishes, so clients learn it did.", DefaultValueFactory = _ => 5 };
        var verbose = new Option<bool>("--verbose") { Description = "Log each accepted update." };

        var command = new Command("server", "Run a federation server (gRPC over TLS) until the configured rounds complete or the privacy budget would be exceeded.");
        var secureAggregation = SecureAggregationCliOptions.AddTo(command);
        var dpMode = DistributedDpCliOptions.AddTo(command);
        foreach (var o in new Option[] { state, listen, port, insecure, cert, certPassword, hosts, initial, rounds, perRound, fraction, minClients, minUpdates, deadline, aggregator, byzantine, serverLr, maxNorm, maxSamples, epochs, batch, lr, dpNoise, dpClip, dpClientClip, population, epsilon, delta, linger, verbose })
        {
            command.Options.Add(o);
        }

        var rateLimits = RateLimitCliOptions.AddTo(command);
        var optimizer = ServerOptimizerCliOptions.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!IPAddress.TryParse(parse.GetValue(listen), out var address))
            {
                throw new CliException($"--listen must be an IP address; got '{parse.GetValue(listen)}'.", 2);
            }

            var sampling = (parse.GetValue(perRound), parse.GetValue(fraction)) switch
            {
                (int n, null) => ClientSampling.OfCount(n),
                (null, double f) => ClientSampling.OfFraction(f, parse.GetValue(minClients)),
                (null, null) => ClientSampling.OfFraction(1.0, parse.GetValue(minClients)),
                _ => throw new CliException("Give either --clients-per-round or --fraction, not both.", 2),
            };
            int needed = parse.GetValue(minUpdates) ?? sampling.Count ?? sampling.Minimum;
            DpFedAvgOptions? dp = null;
            PrivacyBudget? budget = null;
            DistributedDpPlan? distributedDp = null;
            var secure = secureAggregation.Read(parse);
            string? initialPath = parse.GetValue(initial);
            ModelParameters model = initialPath is null ? DigitsFederation.InitialModel() : ReadModel(initialPath);
            bool distributed = dpMode.IsDistributed(parse, secure is not null, optimizer.Adaptive(parse));
            if (parse.GetValue(dpNoise) is double || distributed)
            {
                long n = parse.GetValue(population) ?? throw new CliException("DP needs --population (the number of clients that could be sampled).", 2);
                int expected = sampling.Count ?? throw new CliException("DP needs a fixed --clients-per-round (the accountant's q = clients per round / population).", 2);
                if (distributed)
                {
                    distributedDp = dpMode.Plan(parse, parse.GetValue(dpNoise), parse.GetValue(dpClip), expected, n, needed, parse.GetValue(epsilon), parse.GetValue(delta), parse.GetValue(rounds), secure!.ModulusBits, model.Layout.TotalLength);
                }

                double z = distributedDp?.EffectiveNoiseMultiplier ?? parse.GetValue(dpNoise)!.Value;
                dp = optimizer.Adaptive(parse)
                    ? optimizer.AdaptiveDp(parse, z, parse.GetValue(dpClip), expected, n, parse.GetValue(dpClientClip))
                    : DpFedAvgOptions.Fixed(z, parse.GetValue(dpClip), expected, n, parse.GetValue(dpClientClip) || distributed ? ClippingPlacement.Client : ClippingPlacement.Server);
                budget = new PrivacyBudget(parse.GetValue(epsilon), parse.GetValue(delta));
            }

            if (dp is null && optimizer.Adaptive(parse))
            {
                throw new CliException("--dp-adaptive-quantile needs DP-FedAvg (--dp-noise).", 2);
            }

            var roundOptions = new RoundOptions(
                parse.GetValue(rounds),
                sampling,
                TimeSpan.FromSeconds(parse.GetValue(deadline)),
                needed,
                new AggregatorSettings(parse.GetValue(aggregator)!, parse.GetValue(byzantine)),
                parse.GetValue(serverLr),
                maxUpdateNorm: parse.GetValue(maxNorm),
                maxSampleCount: parse.GetValue(maxSamples),
                privacy: dp)
            {
                ServerOptimizer = optimizer.Optimizer(parse, parse.GetValue(serverLr)),
                DistributedPrivacy = distributedDp,
            };
            var options = new ServerOptions(parse.GetValue(state)!, roundOptions, model)
            {
                ListenAddress = address,
                SecureAggregation = secure,
                Port = parse.GetValue(port),
                Insecure = parse.GetValue(insecure),
                CertificatePath = parse.GetValue(cert),
                CertificatePassword = parse.GetValue(certPassword),
                HostNames = parse.GetValue(hosts) ?? [],
                PrivacyBudget = budget,
                RateLimits = rateLimits.Read(parse),
                Training = new Wire.V1.TrainingConfig { Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(lr) },
            };

            var level = parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information;
            await using var server = await ConfideServer.StartAsync(
                options,
                logging => logging.SetMinimumLevel(level)
                    .AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
                    .AddFilter("Microsoft.Hosting", LogLevel.Warning)
                    .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }),
                cancellationToken: cancellationToken);
            Console.Out.WriteLine($"confide server listening on {server.Address}");
            if (server.CertificateFingerprint is { } fingerprint)
            {
                Console.Out.WriteLine($"certificate SHA-256 fingerprint (clients pin this): {fingerprint}{(server.CertificateCreated ? " (new)" : "")}");
            }
            else
            {
                Console.Out.WriteLine("WARNING: serving plain HTTP/2 without TLS (--insecure, loopback only)");
            }

            if (secure is not null)
            {
                Console.Out.WriteLine(SecureAggregationCliOptions.Describe(secure));
            }

            if (distributedDp is { } plan)
            {
                Console.Out.WriteLine(
                    $"distributed DP on: each client adds N_Z(0, σ²), σ = {plan.ClientSigma:G6} quanta at scale {plan.Scale:G6}; calibrated for {plan.MinimumSurvivors} survivors (z = {plan.EffectiveNoiseMultiplier:G4}); the server adds no noise");
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
            try
            {
                await server.Finished.WaitAsync(stop.Token);
                Console.Out.WriteLine($"run finished: {Describe(server.StopReason)}");
                if (server.FailedRounds > 0)
                {
                    // "Rounds completed" counts rounds run, as Flower does; say how many of them changed nothing.
                    Console.Out.WriteLine($"{server.FailedRounds} of those rounds failed and left the model unchanged; the log and the state folder give each one's reason");
                }

                await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(linger))), stop.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Out.WriteLine("stopping; the state folder holds every completed round");
            }

            return 0;
        });
        return command;
    }

    private static string Describe(StopReason? reason) => reason switch
    {
        StopReason.RoundsCompleted => "the configured number of rounds completed",
        StopReason.PrivacyBudgetExhausted => "the next round would have exceeded the privacy budget",
        _ => "unknown",
    };

    private static ModelParameters ReadModel(string path)
    {
        using var stream = File.OpenRead(path);
        return Safetensors.Read(stream).Parameters;
    }
}
