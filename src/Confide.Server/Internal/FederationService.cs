using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using Confide.Parameters;
using Confide.Protocol.Authentication;
using Confide.Time;
using Confide.Updates;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Confide.Server.Internal;

/// <summary>
/// The gRPC mapping of confide.v1.Federation: authenticates, checks sizes, decodes, and hands over to
/// <see cref="RoundHost"/>. Every refusal is an RpcException with a status and a message saying why.
/// </summary>
internal sealed class FederationService(
    RoundHost host,
    StateStore store,
    RequestAuthenticator authenticator,
    ServerOptions options,
    ISystemClock clock,
    [FromKeyedServices("downloads")] TransferGate downloads,
    [FromKeyedServices("uploads")] TransferGate uploads,
    IHostApplicationLifetime lifetime)
    : Federation.FederationBase
{
    public override Task<EnrollResponse> Enroll(EnrollRequest request, ServerCallContext context)
    {
        authenticator.CheckUnsigned(context);
        if (request.PublicKey.Length != 32)
        {
            throw Invalid($"the public key must be a raw 32-byte Ed25519 key; it has {request.PublicKey.Length} bytes");
        }

        if (request.Token.Length is 0 or > 256 || request.Token.Contains('\n', StringComparison.Ordinal))
        {
            throw Invalid("the enrollment token is missing or malformed");
        }

        if (request.Label.Length > 64)
        {
            throw Invalid("the label is longer than 64 characters");
        }

        byte[] key = request.PublicKey.ToByteArray();
        if (!RequestSignature.VerifyEnrollmentProof(key, request.Token, request.Proof.Span))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the enrollment proof does not verify under the given public key"));
        }

        try
        {
            string id = store.Enroll(request.Token, key, request.Label, clock.UtcNow);
            return Task.FromResult(new EnrollResponse { ClientId = id });
        }
        catch (EnrollmentException ex)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"enrollment refused: {ex.Message}"));
        }
    }

    public override Task<StatusResponse> GetStatus(StatusRequest request, ServerCallContext context)
    {
        authenticator.CheckUnsigned(context);
        return Task.FromResult(host.Status());
    }

    public override async Task<RoundTask> FetchTask(FetchTaskRequest request, ServerCallContext context)
    {
        string clientId = AuthenticateUnary(request, context);
        ServerMetrics.TaskRequestCount.Add(1);
        var changed = host.Changed;
        var task = host.TaskFor(clientId);
        var wait = LongPollWait(request.WaitMs, context.Deadline);
        if (task.Kind != RoundTask.Types.Kind.Wait || wait <= TimeSpan.Zero)
        {
            return task;
        }

        // Long poll: hold the request until a round starts or completes, the wait runs out, the client goes away or
        // the server stops; then answer afresh. Many clients waiting cost nothing, where polling costs a signed request each.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        await changed.WaitAsync(wait, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return host.TaskFor(clientId);
    }

    /// <summary>The long-poll wait: what the client asked, capped by the server and kept 2 s inside the call's deadline.</summary>
    private TimeSpan LongPollWait(int requestedMs, DateTime deadline)
    {
        if (requestedMs <= 0)
        {
            return TimeSpan.Zero;
        }

        var wait = TimeSpan.FromMilliseconds(requestedMs);
        wait = wait < options.MaxTaskWait ? wait : options.MaxTaskWait;
        var half = options.ConnectedWindow / 2;
        wait = wait < half ? wait : half;
        if (deadline != DateTime.MaxValue)
        {
            var left = deadline.ToUniversalTime() - DateTime.UtcNow - TimeSpan.FromSeconds(2);
            wait = wait < left ? wait : left;
        }

        return wait;
    }

    public override async Task FetchModel(FetchModelRequest request, IServerStreamWriter<ModelChunk> responseStream, ServerCallContext context)
    {
        string clientId = AuthenticateUnary(request, context);
        byte[] model = host.ModelFor(clientId, request.Round);
        using var lease = await downloads.EnterAsync(context.CancellationToken).ConfigureAwait(false);
        long start = Stopwatch.GetTimestamp();
        int chunkSize = options.ModelChunkBytes;
        for (int offset = 0; offset < model.Length; offset += chunkSize)
        {
            int length = Math.Min(chunkSize, model.Length - offset);

            // No copy: the encoded model is never written to after it is published (a new round publishes a new array).
            await lease.AwaitAsync(responseStream.WriteAsync(new ModelChunk
            {
                Offset = offset,
                TotalBytes = model.Length,
                Data = UnsafeByteOperations.UnsafeWrap(model.AsMemory(offset, length)),
            }, context.CancellationToken), context.CancellationToken).ConfigureAwait(false);
        }

        ServerMetrics.RecordSince(ServerMetrics.ModelSendSeconds, start);
    }

    public override async Task<SubmitUpdateResponse> SubmitUpdate(IAsyncStreamReader<UpdateMessage> requestStream, ServerCallContext context)
    {
        // Signature, time window and nonce are checked before a single message of the body is read.
        var (clientId, signedHash) = authenticator.Authenticate(context);
        if (!await NextAsync(requestStream, context).ConfigureAwait(false) || requestStream.Current.PartCase != UpdateMessage.PartOneofCase.Header)
        {
            throw Invalid("the first message of SubmitUpdate must be an UpdateHeader");
        }

        var header = requestStream.Current.Header;
        host.CheckPlace(clientId, header.Round);

        // One upload per client at a time: a participant cannot make the server hold many model-sized buffers.
        if (!host.TryBeginUpload(clientId))
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"an upload from client '{clientId}' is already in progress; one at a time"));
        }

        try
        {
            return await ReceiveUpdateAsync(requestStream, context, clientId, signedHash, header).ConfigureAwait(false);
        }
        finally
        {
            host.EndUpload(clientId);
        }
    }

    private async Task<SubmitUpdateResponse> ReceiveUpdateAsync(IAsyncStreamReader<UpdateMessage> requestStream, ServerCallContext context, string clientId, byte[] signedHash, UpdateHeader header)
    {
        long limit = (long)host.ModelByteCount + options.PayloadSlackBytes;
        if (header.TotalBytes <= 0)
        {
            // Not a size to refuse for want of room: no update has zero or fewer bytes.
            throw Invalid($"the update header declares {header.TotalBytes} bytes; total_bytes must be the positive size of the safetensors payload ({host.ModelByteCount} bytes for this layout)");
        }

        if (header.TotalBytes > limit)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"the update declares {header.TotalBytes} bytes; a model of this layout takes {host.ModelByteCount} bytes (at most {limit} accepted)"));
        }

        int total = checked((int)header.TotalBytes);

        ArraySegment<byte> payload = default;
        try
        {
            // The slot covers reading the stream only; persisting, which waits on the disk, does not hold it.
            long start;
            UploadSink sink;
            using (var lease = await uploads.EnterAsync(context.CancellationToken).ConfigureAwait(false))
            {
                start = Stopwatch.GetTimestamp();

                // A pooled, block-aligned buffer, taken once the upload may start (so waiting uploads hold none):
                // updates are model-sized, a fresh one per upload churns the large object heap, and the pending file is
                // written from it with direct I/O. It holds an individual update, so it is cleared before it is reused.
                payload = host.UploadBuffers.Rent(total);
                sink = new UploadSink(payload, total);

                // The request deserializer copies each chunk's bytes straight into the buffer (see UploadSink).
                UploadSink.Current = sink;
                try
                {
                    while (await lease.AwaitAsync(NextAsync(requestStream, context), context.CancellationToken).ConfigureAwait(false))
                    {
                        var message = requestStream.Current;
                        if (message.PartCase != UpdateMessage.PartOneofCase.Chunk)
                        {
                            throw Invalid("only UpdateChunk messages may follow the header");
                        }

                        // Normally empty (the deserializer put the bytes in the sink); should a chunk ever be parsed
                        // without the sink in view, its bytes still land in the same place.
                        if (!message.Chunk.Data.IsEmpty)
                        {
                            sink.Append(new ReadOnlySequence<byte>(message.Chunk.Data.Memory));
                        }
                    }
                }
                finally
                {
                    UploadSink.Current = null;
                }
            }

            int received = sink.Received;
            if (received != total)
            {
                throw Invalid($"the update stream ended after {received} of the {total} declared bytes");
            }

            // One pass of SHA-256 over the signed body (the header as sent, then the payload), before anything decodes it.
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(header.ToByteArray());
            hash.AppendData(payload.AsSpan(0, total));
            RequestAuthenticator.CheckBody(signedHash, hash.GetHashAndReset());
            ServerMetrics.RecordSince(ServerMetrics.UpdateReceiveSeconds, start);

            // Only now, with the body authenticated, is it decoded into a model.
            if (header.LayoutFingerprint != host.GlobalLayoutFingerprint)
            {
                throw host.Reject(clientId, header.Round, $"the update was trained on layout {Short(header.LayoutFingerprint)}, but this round's layout is {Short(host.GlobalLayoutFingerprint)}");
            }

            var body = payload.AsMemory(0, total);
            ModelParameters delta;
            start = Stopwatch.GetTimestamp();

            // Decoded strictly against the round's layout into a reused array (see UpdateArrayPool).
            float[] values = host.RentUpdateArray();
            try
            {
                delta = Safetensors.ReadInto(body.Span, host.Layout, values).Parameters;
                ServerMetrics.RecordSince(ServerMetrics.UpdateDecodeSeconds, start);
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException or FormatException)
            {
                host.ReturnUpdateArray(values);
                throw host.Reject(clientId, header.Round, $"the payload is not a valid safetensors model: {ex.Message}");
            }

            await host.SubmitAsync(header.Round, new ClientUpdate(clientId, delta, header.SampleCount), body, values, header.HasClipIndicator ? header.ClipIndicator : null).ConfigureAwait(false);
            return new SubmitUpdateResponse { Accepted = true, Round = header.Round };
        }
        finally
        {
            if (payload.Array is not null)
            {
                host.UploadBuffers.Return(payload, total);
            }
        }
    }

    public override Task<ReportMetricsResponse> ReportMetrics(EvaluationReport request, ServerCallContext context)
    {
        string clientId = AuthenticateUnary(request, context);
        if (request.Samples <= 0 || !double.IsFinite(request.Loss) || request.Loss < 0 || !(request.Accuracy is >= 0 and <= 1) || request.Round < 0)
        {
            throw Invalid("an evaluation report needs a round ≥ 0, samples > 0, a finite loss ≥ 0 and an accuracy in [0, 1]");
        }

        store.RecordMetrics(request.Round, clientId, request.Samples, request.Loss, request.Accuracy, clock.UtcNow);
        return Task.FromResult(new ReportMetricsResponse());
    }

    public override async Task<SecAggResponse> SecAgg(SecAggRequest request, ServerCallContext context)
    {
        // The signature and the body hash are checked before a single field of the body is decoded.
        string clientId = AuthenticateUnary(request, context);
        return await host.SecAggAsync(clientId, request, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the next stream message, turning a message that does not parse into INVALID_ARGUMENT.</summary>
    private static async Task<bool> NextAsync(IAsyncStreamReader<UpdateMessage> stream, ServerCallContext context)
    {
        try
        {
            return await stream.MoveNext(context.CancellationToken).ConfigureAwait(false);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw Invalid($"malformed protobuf in the update stream: {ex.Message}");
        }
    }

    private static string Short(string fingerprint) => fingerprint.Length > 16 ? fingerprint[..16] + "…" : fingerprint;

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private string AuthenticateUnary(IMessage request, ServerCallContext context)
    {
        var (clientId, signedHash) = authenticator.Authenticate(context);
        RequestAuthenticator.CheckBody(signedHash, SHA256.HashData(request.ToByteArray()));
        return clientId;
    }
}
