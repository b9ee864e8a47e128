using System.Net;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.Rounds;

namespace Confide.Server;

/// <summary>Settings of a <see cref="ConfideServer"/>. Validated where built.</summary>
public sealed record ServerOptions
{
    /// <summary>Creates the options.</summary>
    /// <param name="stateDirectory">The state folder (database, checkpoints, certificate).</param>
    /// <param name="rounds">The round settings.</param>
    /// <param name="initialModel">The model to start from when the state folder is fresh (ignored afterwards, but its layout must match).</param>
    public ServerOptions(string stateDirectory, RoundOptions rounds, ModelParameters initialModel)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        ArgumentNullException.ThrowIfNull(rounds);
        ArgumentNullException.ThrowIfNull(initialModel);
        StateDirectory = stateDirectory;
        Rounds = rounds;
        InitialModel = initialModel;
    }

    /// <summary>The state folder.</summary>
    public string StateDirectory { get; }

    /// <summary>The round settings.</summary>
    public RoundOptions Rounds { get; }

    /// <summary>The initial model.</summary>
    public ModelParameters InitialModel { get; }

    /// <summary>The privacy budget, required when <see cref="RoundOptions.Privacy"/> is set.</summary>
    public PrivacyBudget? PrivacyBudget { get; init; }

    /// <summary>Secure aggregation of every round, or null for plain rounds.</summary>
    public SecureAggregationSettings? SecureAggregation { get; init; }

    /// <summary>The address to listen on (loopback by default).</summary>
    public IPAddress ListenAddress { get; init; } = IPAddress.Loopback;

    /// <summary>The port; 0 picks a free one (see <see cref="ConfideServer.Port"/>).</summary>
    public int Port { get => field; init => field = value is >= 0 and <= 65535 ? value : throw new ArgumentOutOfRangeException(nameof(Port), value, "A port is in 0..65535."); } = 7443;

    /// <summary>Serve plain HTTP/2 without TLS. Allowed only on a loopback address.</summary>
    public bool Insecure { get; init; }

    /// <summary>A PKCS#12 certificate to serve instead of the generated one, or null.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>The password of <see cref="CertificatePath"/>, or null.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>Extra host names for the generated certificate.</summary>
    public IReadOnlyList<string> HostNames { get; init; } = [];

    /// <summary>Local training settings sent to clients.</summary>
    public Wire.V1.TrainingConfig Training { get; init; } = new() { Epochs = 1, BatchSize = 32, LearningRate = 0.1 };

    /// <summary>How recently a client must have asked for work to count as connected.</summary>
    public TimeSpan ConnectedWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How far a request timestamp may be from the server's clock.</summary>
    public TimeSpan TimestampWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the coordinator is polled (round start and completion).</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest a FetchTask long poll is held when there is nothing to do (also kept under half of
    /// <see cref="ConnectedWindow"/>, so a waiting client stays connected). Zero answers every FetchTask at once.
    /// </summary>
    public TimeSpan MaxTaskWait
    {
        get => field;
        init => field = value >= TimeSpan.Zero && value <= TimeSpan.FromMinutes(5) ? value : throw new ArgumentOutOfRangeException(nameof(MaxTaskWait), value, "The long-poll wait is 0 to 5 minutes.");
    } = TimeSpan.FromSeconds(20);

    /// <summary>How long a client told to wait should wait.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The largest single gRPC message accepted (a model chunk plus framing).</summary>
    public int MaxMessageBytes { get; init; } = (1 << 20) + (64 << 10);

    /// <summary>
    /// The payload bytes per FetchModel chunk. Below the 85,000-byte large-object threshold, so that the per-message
    /// buffers on both ends are short-lived small objects rather than large-object-heap churn; at most
    /// <see cref="MaxMessageBytes"/> minus framing. Clients accept chunks of up to 1 MiB.
    /// </summary>
    public int ModelChunkBytes
    {
        get => field;
        init => field = value is >= 1024 and <= 1 << 20 ? value : throw new ArgumentOutOfRangeException(nameof(ModelChunkBytes), value, "A model chunk is 1 KiB to 1 MiB.");
    } = 64 << 10;

    /// <summary>
    /// The HTTP/2 receive window per stream (the connection window is twice this): how many bytes of an upload a client
    /// may send before the server acknowledges them. Larger windows mean fewer stalls per upload and more memory per
    /// upload in flight.
    /// </summary>
    public int Http2StreamWindowBytes
    {
        get => field;
        init => field = value is >= 65_535 and <= 16 << 20 ? value : throw new ArgumentOutOfRangeException(nameof(Http2StreamWindowBytes), value, "An HTTP/2 stream window is 65,535 bytes to 16 MiB.");
    } = 1 << 20;

    /// <summary>
    /// How many model downloads and update uploads move at once (each kind counted separately); the rest wait their
    /// turn. A few streams at full speed cost less per byte than many interleaved ones when the cores are few; on two
    /// cores 8 measured best for 100 clients × 1M parameters (a steady round 1.30–1.37 s, against 1.36–1.45 s with 4 and
    /// about the same with 16; docs/bench/federation.md). Each upload in progress holds one model-sized buffer.
    /// </summary>
    public int MaxConcurrentTransfers
    {
        get => field;
        init => field = value is >= 1 and <= 10_000 ? value : throw new ArgumentOutOfRangeException(nameof(MaxConcurrentTransfers), value, "Concurrent transfers are 1 to 10,000.");
    } = Math.Max(8, 2 * Environment.ProcessorCount);

    /// <summary>Slack allowed over the global model's encoded size for an update payload.</summary>
    public int PayloadSlackBytes { get; init; } = 64 << 10;

    /// <summary>Request rate limits (<see cref="RateLimitOptions.Default"/> unless set); null turns rate limiting off.</summary>
    public RateLimitOptions? RateLimits { get; init; } = RateLimitOptions.Default;

    /// <summary>Checks the combination of settings.</summary>
    internal void Validate()
    {
        if (Insecure && !IPAddress.IsLoopback(ListenAddress))
        {
            throw new ArgumentException($"--insecure (plain HTTP/2 without TLS) is allowed only on a loopback address, not on {ListenAddress}.");
        }

        if (ModelChunkBytes + 1024 > MaxMessageBytes)
        {
            throw new ArgumentException($"A {ModelChunkBytes}-byte model chunk plus framing does not fit the {MaxMessageBytes}-byte message limit; lower ModelChunkBytes or raise MaxMessageBytes.");
        }

        if (Rounds.Privacy is not null && PrivacyBudget is null)
        {
            throw new ArgumentException("DP-FedAvg is configured, so a privacy budget (ε, δ) is required.");
        }

        if (Rounds.DistributedPrivacy is not null && SecureAggregation is null)
        {
            throw new ArgumentException("Distributed DP adds each client's noise before secure-aggregation masking; it needs secure aggregation (--secure-agg).");
        }

        Internal.SecAggRoundHost.Validate(this);
    }
}
