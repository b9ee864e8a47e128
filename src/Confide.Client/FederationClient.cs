using System.Buffers;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using Confide.Client.Internal;
using Confide.Protocol.Authentication;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Time;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Confide.Client;

/// <summary>
/// A connection to a Confide server: a gRPC channel over TLS with the server certificate pinned by its SHA-256
/// fingerprint (or plain HTTP/2 to loopback when insecure), and one method per RPC. Every call after enrollment is
/// signed with the client's Ed25519 key as protos/confide.proto specifies. Failures surface as
/// <see cref="RpcException"/> with the server's status and message.
/// </summary>
public sealed class FederationClient : IDisposable
{
    /// <summary>The bytes per upload chunk: below the 85,000-byte large-object threshold (see ServerOptions.ModelChunkBytes).</summary>
    private const int UploadChunkBytes = 64 << 10;

    /// <summary>The largest model chunk accepted from a server (older servers send 1 MiB chunks).</summary>
    private const int MaxDownloadChunkBytes = 1 << 20;
    private readonly GrpcChannel _channel;
    private readonly IdentityKeyPair _key;
    private readonly ISystemClock _clock;
    private readonly IRandomSource _random;

    /// <summary>Creates a client; nothing is sent until a method is called.</summary>
    /// <param name="options">Server address and trust.</param>
    /// <param name="key">The client's signing key (not disposed by this client).</param>
    /// <param name="clientId">The id from an earlier enrollment, or null.</param>
    /// <param name="clock">The clock for request timestamps (the system clock when null).</param>
    /// <param name="random">Randomness for nonces (the OS CSPRNG when null).</param>
    public FederationClient(FederationClientOptions options, IdentityKeyPair key, string? clientId = null, ISystemClock? clock = null, IRandomSource? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(key);
        Options = options;
        _key = key;
        ClientId = clientId;
        _clock = clock ?? SystemClock.Instance;
        _random = random ?? CryptoRandomSource.Instance;
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(10),

            // Model downloads are large streams: start the receive window at 1 MiB instead of 64 KiB so a download does
            // not wait for the window to grow (it still grows dynamically from there).
            InitialHttp2StreamWindowSize = 1 << 20,
        };
        if (!options.Insecure)
        {
            byte[] pinned = options.PinnedFingerprint!;
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                // The certificate is self-signed, so chain and name errors are expected; the pin is the trust decision.
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), pinned),
            };
        }

        _channel = GrpcChannel.ForAddress(options.Address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = MaxDownloadChunkBytes + (64 << 10),
            MaxSendMessageSize = 64 << 20,
        });
        Raw = new Federation.FederationClient(_channel);
    }

    /// <summary>The settings.</summary>
    public FederationClientOptions Options { get; }

    /// <summary>The id the server gave at enrollment, or null before.</summary>
    public string? ClientId { get; private set; }

    /// <summary>The identity key (it also signs this client's SecAgg messages).</summary>
    internal IdentityKeyPair IdentityKey => _key;

    /// <summary>The generated stub, for tests that need to send what a well-behaved client never would.</summary>
    internal Federation.FederationClient Raw { get; }

    /// <summary>The channel, for tests that call methods with their own marshallers.</summary>
    internal GrpcChannel Channel => _channel;

    /// <summary>Enrolls with a one-time token and sets <see cref="ClientId"/>.</summary>
    public async Task<string> EnrollAsync(string token, string label = "", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        byte[] proof = RequestSignature.SignEnrollmentProof(_key, token);
        var response = await Raw.EnrollAsync(
            new EnrollRequest { Token = token, PublicKey = ByteString.CopyFrom(_key.PublicKey.ToBytes()), Proof = ByteString.CopyFrom(proof), Label = label },
            deadline: Deadline(Options.CallTimeout),
            cancellationToken: cancellationToken).ConfigureAwait(false);
        ClientId = response.ClientId;
        return response.ClientId;
    }

    /// <summary>The server's public status.</summary>
    public async Task<StatusResponse> GetStatusAsync(CancellationToken cancellationToken = default) =>
        await Raw.GetStatusAsync(new StatusRequest(), deadline: Deadline(Options.CallTimeout), cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary>Asks what to do now.</summary>
    public async Task<RoundTask> FetchTaskAsync(long lastRound, CancellationToken cancellationToken = default) =>
        await FetchTaskAsync(lastRound, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Asks what to do now, letting the server hold the request up to <paramref name="wait"/> when the answer would be
    /// WAIT (a long poll: it answers as soon as a round starts or completes). The call's deadline is the unary timeout
    /// plus the wait. A server that does not long-poll answers at once.
    /// </summary>
    public async Task<RoundTask> FetchTaskAsync(long lastRound, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        if (wait < TimeSpan.Zero || wait > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentOutOfRangeException(nameof(wait), wait, "The long-poll wait is 0 to 5 minutes.");
        }

        var request = new FetchTaskRequest { LastRound = lastRound, WaitMs = (int)wait.TotalMilliseconds };
        return await Raw.FetchTaskAsync(request, Signed("FetchTask", request.ToByteArray(), Options.CallTimeout + wait, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Downloads the global model of <paramref name="round"/> as safetensors bytes.</summary>
    public async Task<byte[]> FetchModelAsync(long round, CancellationToken cancellationToken = default)
    {
        var (model, _) = await ReceiveModelAsync(round, length => new byte[length], cancellationToken).ConfigureAwait(false);
        return model;
    }

    /// <summary>
    /// Downloads the global model of <paramref name="round"/> into a buffer rented from the shared pool, hands the
    /// bytes to <paramref name="decode"/>, and returns the buffer; saves a model-sized allocation per round.
    /// </summary>
    internal async Task<T> FetchModelAsync<T>(long round, Func<ReadOnlyMemory<byte>, T> decode, CancellationToken cancellationToken = default)
    {
        byte[]? buffer = null;
        try
        {
            (buffer, int length) = await ReceiveModelAsync(round, ArrayPool<byte>.Shared.Rent, cancellationToken).ConfigureAwait(false);
            return decode(buffer.AsMemory(0, length));
        }
        finally
        {
            if (buffer is not null)
            {
                // The global model is sent to every participant, so it is not cleared (unlike an update).
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task<(byte[] Buffer, int Length)> ReceiveModelAsync(long round, Func<int, byte[]> allocate, CancellationToken cancellationToken)
    {
        var request = new FetchModelRequest { Round = round };
        var options = Signed("FetchModel", request.ToByteArray(), Options.TransferTimeout, cancellationToken);
        using var call = _channel.CreateCallInvoker().AsyncServerStreamingCall(ModelDownload.FetchModelMethod, null, options, request);

        // The response deserializer checks each chunk and copies its bytes straight into the model buffer (see
        // ModelDownload). A buffer lost to an exception below is simply collected; the pool does not need it back.
        var download = new ModelDownload(Options.MaxModelBytes, allocate);
        ModelDownload.Current = download;
        try
        {
            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                // Normally empty (the deserializer put the bytes in the download); should a chunk ever be parsed
                // without the download in view, it is checked and copied here instead.
                var chunk = call.ResponseStream.Current;
                if (!chunk.Data.IsEmpty)
                {
                    download.Accept(chunk.Offset, chunk.TotalBytes, new System.Buffers.ReadOnlySequence<byte>(chunk.Data.Memory));
                }

                if (download.Failure is { } failure)
                {
                    throw failure;
                }
            }
        }
        finally
        {
            ModelDownload.Current = null;
        }

        if (download.Failure is { } late)
        {
            throw late;
        }

        if (download.Buffer is null || download.Received != download.Total)
        {
            throw new InvalidDataException($"The model stream ended after {download.Received} of {download.Total} bytes.");
        }

        return (download.Buffer, download.Total);
    }

    /// <summary>
    /// Uploads an update (the safetensors encoding of trained − global) for <paramref name="round"/>. The payload is
    /// sent without copying, so it must not change until the returned task completes.
    /// </summary>
    public async Task<SubmitUpdateResponse> SubmitUpdateAsync(long round, string layoutFingerprint, byte[] payload, long sampleCount, double trainLoss, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return await SubmitUpdateAsync(round, layoutFingerprint, payload.AsMemory(), sampleCount, trainLoss, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Uploads an update held in part of a buffer (for instance a pooled one); see
    /// <see cref="SubmitUpdateAsync(long, string, byte[], long, double, CancellationToken)"/>.
    /// </summary>
    public Task<SubmitUpdateResponse> SubmitUpdateAsync(long round, string layoutFingerprint, ReadOnlyMemory<byte> payload, long sampleCount, double trainLoss, CancellationToken cancellationToken = default) =>
        SubmitUpdateAsync(round, layoutFingerprint, payload, sampleCount, trainLoss, null, cancellationToken);

    /// <summary>
    /// Uploads an update with the adaptive-clipping indicator <paramref name="clipIndicator"/> in its header (1 when
    /// the update's norm before clipping was at most the task's clip norm, else 0; null sends none); see
    /// <see cref="SubmitUpdateAsync(long, string, byte[], long, double, CancellationToken)"/>.
    /// </summary>
    public async Task<SubmitUpdateResponse> SubmitUpdateAsync(long round, string layoutFingerprint, ReadOnlyMemory<byte> payload, long sampleCount, double trainLoss, uint? clipIndicator, CancellationToken cancellationToken = default)
    {
        var header = new UpdateHeader { Round = round, SampleCount = sampleCount, TotalBytes = payload.Length, LayoutFingerprint = layoutFingerprint ?? "", TrainLoss = trainLoss };
        if (clipIndicator is uint bit)
        {
            header.ClipIndicator = bit;
        }

        return await SubmitCoreAsync(header, payload, Split(payload), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reports a local evaluation of the model produced by <paramref name="round"/>.</summary>
    public async Task ReportMetricsAsync(long round, long samples, double loss, double accuracy, CancellationToken cancellationToken = default)
    {
        var request = new EvaluationReport { Round = round, Samples = samples, Loss = loss, Accuracy = accuracy };
        await Raw.ReportMetricsAsync(request, Signed("ReportMetrics", request.ToByteArray(), Options.CallTimeout, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Sends one SecAgg stage message.</summary>
    public async Task<SecAggResponse> SecAggAsync(SecAggRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await Raw.SecAggAsync(request, Signed("SecAgg", request.ToByteArray(), Options.CallTimeout, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Closes the channel.</summary>
    public void Dispose() => _channel.Dispose();

    /// <summary>Uploads a header and chunks signed over <paramref name="signedPayload"/> (tests pass mismatching ones).</summary>
    internal Task<SubmitUpdateResponse> SubmitRawAsync(UpdateHeader header, byte[] signedPayload, IEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken) =>
        SubmitCoreAsync(header, signedPayload, chunks, cancellationToken);

    private async Task<SubmitUpdateResponse> SubmitCoreAsync(UpdateHeader header, ReadOnlyMemory<byte> signedPayload, IEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(header.ToByteArray());
        hash.AppendData(signedPayload.Span);
        using var call = Raw.SubmitUpdate(SignedWithHash("SubmitUpdate", hash.GetHashAndReset(), Options.TransferTimeout, cancellationToken, null));
        using var writes = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var response = call.ResponseAsync;
        var writing = WriteAllAsync(call.RequestStream, header, chunks, writes.Token);

        // The server may answer (refuse) before it has read the whole stream; then stop writing at once rather than
        // wait on HTTP/2 flow control for a reader that has gone.
        if (await Task.WhenAny(response, writing).ConfigureAwait(false) == response)
        {
            await writes.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await writing.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
        {
            // The response below carries the server's status.
        }

        return await response.ConfigureAwait(false);
    }

    private static async Task WriteAllAsync(IClientStreamWriter<UpdateMessage> stream, UpdateHeader header, IEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(new UpdateMessage { Header = header }, cancellationToken).ConfigureAwait(false);
        foreach (var chunk in chunks)
        {
            // No copy: the payload was hashed and signed already, so the caller must not change it while it uploads.
            await stream.WriteAsync(new UpdateMessage { Chunk = new UpdateChunk { Data = UnsafeByteOperations.UnsafeWrap(chunk) } }, cancellationToken).ConfigureAwait(false);
        }

        await stream.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Signed call options for <paramref name="method"/> over <paramref name="body"/>.</summary>
    internal CallOptions Signed(string method, byte[] body, TimeSpan timeout, CancellationToken cancellationToken, Action<Metadata>? tamper = null) =>
        SignedWithHash(method, SHA256.HashData(body), timeout, cancellationToken, tamper);

    internal CallOptions SignedWithHash(string method, byte[] bodyHash, TimeSpan timeout, CancellationToken cancellationToken, Action<Metadata>? tamper)
    {
        string clientId = ClientId ?? throw new InvalidOperationException("The client is not enrolled yet: call EnrollAsync first or pass the client id.");
        string path = $"/{Federation.Descriptor.FullName}/{method}";
        long timestamp = _clock.UtcNow.ToUnixTimeMilliseconds();
        Span<byte> nonceBytes = stackalloc byte[RequestSignature.NonceSize];
        _random.NextBytes(nonceBytes);
        string nonce = Convert.ToHexStringLower(nonceBytes);
        string bodyHex = Convert.ToHexStringLower(bodyHash);
        byte[] signature = RequestSignature.SignRequest(_key, path, clientId, timestamp, nonce, bodyHex);
        var headers = new Metadata
        {
            { RequestSignature.ClientIdHeader, clientId },
            { RequestSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture) },
            { RequestSignature.NonceHeader, nonce },
            { RequestSignature.BodyHashHeader, bodyHex },
            { RequestSignature.SignatureHeader, Convert.ToHexStringLower(signature) },
        };
        tamper?.Invoke(headers);
        return new CallOptions(headers, Deadline(timeout), cancellationToken);
    }

    private static DateTime Deadline(TimeSpan timeout) => DateTime.UtcNow + timeout;

    private static IEnumerable<ReadOnlyMemory<byte>> Split(ReadOnlyMemory<byte> payload)
    {
        for (int offset = 0; offset < payload.Length; offset += UploadChunkBytes)
        {
            yield return payload.Slice(offset, Math.Min(UploadChunkBytes, payload.Length - offset));
        }
    }
}
