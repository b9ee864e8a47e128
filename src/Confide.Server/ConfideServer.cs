using System.Net;
using System.Security.Cryptography.X509Certificates;
using Confide.Privacy;
using Confide.Protocol.Rounds;
using Confide.Randomness;
using Confide.Server.Internal;
using Confide.Time;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Confide.Server;

/// <summary>
/// A running Confide federation server: Kestrel serving confide.v1.Federation over HTTP/2 (TLS unless
/// <see cref="ServerOptions.Insecure"/> on loopback), a <see cref="StateStore"/> in the state folder, and a ticker that
/// starts and completes rounds. Resumes from the state folder when it holds a previous run.
/// </summary>
public sealed class ConfideServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly StateStore _store;
    private readonly RoundHost _host;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _ticker;
    private readonly X509Certificate2? _certificate;
    private readonly ISystemClock _clock;

    private ConfideServer(WebApplication app, StateStore store, RoundHost host, X509Certificate2? certificate, bool created, TimeSpan tick, ISystemClock clock)
    {
        _clock = clock;
        _app = app;
        _store = store;
        _host = host;
        _certificate = certificate;
        CertificateCreated = created;
        CertificateFingerprint = certificate is null ? null : ServerCertificate.Fingerprint(certificate);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Address = new Uri(addresses.First());
        _ticker = RunTicker(tick, _stop.Token);
    }

    /// <summary>The service name the gRPC health service reports on (besides the whole server, "").</summary>
    public const string FederationServiceName = "confide.v1.Federation";

    /// <summary>The address clients connect to (with the actual port).</summary>
    public Uri Address { get; }

    /// <summary>The port listened on.</summary>
    public int Port => Address.Port;

    /// <summary>The SHA-256 fingerprint clients pin, or null when serving without TLS.</summary>
    public string? CertificateFingerprint { get; }

    /// <summary>True when this start generated the self-signed certificate.</summary>
    public bool CertificateCreated { get; }

    /// <summary>The store (for administration and inspection).</summary>
    public StateStore Store => _store;

    /// <summary>The round host (tests reach its seams through it).</summary>
    internal RoundHost Host => _host;

    /// <summary>Where Kestrel's connection buffers come from.</summary>
    internal LargeBlockMemoryPoolFactory? MemoryPools { get; private init; }

    /// <summary>The coordinator's stage.</summary>
    public RoundStage Stage => _host.Stage;

    /// <summary>Completed rounds that ended without changing the model (too few updates, or secure aggregation aborted).</summary>
    public long FailedRounds => _host.FailedRounds;

    /// <summary>Why the run stopped, once it has.</summary>
    public StopReason? StopReason => _host.StopReason;

    /// <summary>A copy of the current global model.</summary>
    public Parameters.ModelParameters GlobalModel => _host.GlobalModel;

    /// <summary>
    /// Completes when the run has finished (rounds done or budget exhausted); faults when a coordinator step could not
    /// be persisted (restart the server to resume from the state folder).
    /// </summary>
    public Task Finished => _host.Finished;

    /// <summary>Opens the state folder, resumes or starts the run, and starts serving.</summary>
    /// <param name="options">The settings.</param>
    /// <param name="logging">Configures logging (no providers when null).</param>
    /// <param name="clock">The clock (the system clock when null).</param>
    /// <param name="random">Randomness for client sampling and tokens (the OS CSPRNG when null).</param>
    /// <param name="noise">The DP noise source (a CSPRNG-backed one when null).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<ConfideServer> StartAsync(
        ServerOptions options,
        Action<ILoggingBuilder>? logging = null,
        ISystemClock? clock = null,
        IRandomSource? random = null,
        IGaussianNoise? noise = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        clock ??= SystemClock.Instance;
        random ??= CryptoRandomSource.Instance;
        noise ??= GaussianNoise.Crypto;

        // The store first: it creates the state folder owner-only before anything is written into it.
        var store = StateStore.Open(options.StateDirectory);
        X509Certificate2? certificate = null;
        try
        {
            bool created = false;
            if (!options.Insecure)
            {
                certificate = options.CertificatePath is null
                    ? ServerCertificate.LoadOrCreate(options.StateDirectory, options.HostNames, out created)
                    : ServerCertificate.Load(options.CertificatePath, options.CertificatePassword);
            }

            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            logging?.Invoke(builder.Logging);

            // Registered after Kestrel's own factory, so it is the one the socket transport resolves.
            var memoryPools = new LargeBlockMemoryPoolFactory();
            builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(memoryPools);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Limits.MaxRequestBodySize = null; // the service enforces its own per-update bound

                // Uploads are model-sized streams. Kestrel's default HTTP/2 receive windows (96 KiB per stream, 128 KiB per
                // connection) make a sender stop for a WINDOW_UPDATE every few frames; with many clients on few cores each
                // of those waits is a trip through the scheduler. 1 MiB per stream (2 MiB per connection) bounds what one
                // upload can have in flight to the server's memory at the same order as a single pooled chunk buffer.
                kestrel.Limits.Http2.InitialStreamWindowSize = options.Http2StreamWindowBytes;
                kestrel.Limits.Http2.InitialConnectionWindowSize = Math.Max(2 * options.Http2StreamWindowBytes, 128 << 10);
                kestrel.Listen(options.ListenAddress, options.Port, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    if (certificate is not null)
                    {
                        listen.UseHttps(certificate);
                    }
                });
            });
            builder.Services.AddGrpc(grpc =>
            {
                grpc.MaxReceiveMessageSize = SecAggRoundHost.MaxReceiveBytes(options);
                grpc.MaxSendMessageSize = options.MaxMessageBytes;
                grpc.EnableDetailedErrors = false;
            });

            var loggerFactory = LoggerFactory.Create(b => logging?.Invoke(b));
            var host = new RoundHost(options, store, clock, random, noise, loggerFactory.CreateLogger("Confide.Server.Rounds"));
            builder.Services.AddSingleton(host);
            builder.Services.AddSingleton(store);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(clock);
            builder.Services.AddSingleton(new RequestAuthenticator(store, clock, options.TimestampWindow, new RequestRateLimiter(options.RateLimits, clock)));
            // Federation's methods are bound by ParsingMethodProvider, so a malformed body gets INVALID_ARGUMENT.
            builder.Services.AddSingleton<Grpc.AspNetCore.Server.Model.IServiceMethodProvider<FederationEndpoint>, ParsingMethodProvider>();
            // The standard grpc.health.v1.Health service: SERVING for "" and for confide.v1.Federation once the store is open.
            builder.Services.AddSingleton<StateStoreHealthCheck>(); // one instance, so its ping cache is shared
            builder.Services.AddGrpcHealthChecks(health => health.Services.Map(FederationServiceName, _ => true))
                .AddCheck<StateStoreHealthCheck>("state-store");
            builder.Services.AddKeyedSingleton("downloads", new TransferGate(options.MaxConcurrentTransfers));
            builder.Services.AddKeyedSingleton("uploads", new TransferGate(options.MaxConcurrentTransfers));
            var app = builder.Build();
            app.MapGrpcService<FederationEndpoint>();
            app.MapGrpcHealthChecksService();
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new ConfideServer(app, store, host, certificate, created, options.TickInterval, clock) { MemoryPools = memoryPools };
        }
        catch
        {
            store.Dispose();
            certificate?.Dispose();
            throw;
        }
    }

    /// <summary>Issues a one-time enrollment token valid for <see cref="StateStore.DefaultTokenLifetime"/> by the server's clock.</summary>
    public string IssueToken() => IssueToken(StateStore.DefaultTokenLifetime);

    /// <summary>Issues a one-time enrollment token valid for <paramref name="lifetime"/> by the server's clock.</summary>
    public string IssueToken(TimeSpan lifetime) => _store.IssueToken(CryptoRandomSource.Instance, _clock.UtcNow, lifetime);

    /// <summary>Stops serving and closes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _ticker.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _store.Dispose();
        _certificate?.Dispose();
        _stop.Dispose();
    }

    private async Task RunTicker(TimeSpan interval, CancellationToken token)
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            // A failure here (the disk, the database) must not pass silently: the coordinator may have moved on
            // without the store, so the host fails stop, Finished faults, and a restart resumes from the store.
            if (!_host.SafeTick())
            {
                return;
            }
        }
    }
}
