using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Randomness;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Confide.Client;

/// <summary>
/// The client side of a federated run: ask for a task; when selected, download the global model, train locally,
/// clip the update when the server asks for client-side clipping (DP-FedAvg), sign and submit it; repeat until the
/// server says the run has finished. Transient failures (unavailable, deadline exceeded, aborted, internal, resource
/// exhausted) are retried with exponential backoff and jitter; a round is never submitted twice, even across restarts
/// (see <see cref="ParticipantProgress"/>).
/// </summary>
/// <remarks>When the task carries a SecAgg setup, the update goes through secure aggregation instead of SubmitUpdate (see
/// <c>FederatedParticipant.SecAgg.cs</c>). Outside secure rounds, and in secure rounds with central DP, the client adds no
/// noise of its own (the server adds DP-FedAvg's); when the round's setup asks for distributed DP, it adds discrete
/// Gaussian noise before masking.</remarks>
public sealed partial class FederatedParticipant
{
    private readonly FederationClient _client;
    private readonly ILocalTrainer _trainer;
    private readonly ParticipantProgress _progress;
    private readonly ILogger _logger;

    /// <summary>Creates the loop.</summary>
    public FederatedParticipant(FederationClient client, ILocalTrainer trainer, ParticipantProgress progress, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(progress);
        _client = client;
        _trainer = trainer;
        _progress = progress;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The first retry delay; doubled after each failure up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest retry delay.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive transient failures after which the loop gives up.</summary>
    public int MaxConsecutiveFailures { get; init; } = 20;

    /// <summary>
    /// How long the server may hold a FetchTask when there is nothing to do (a long poll), so a waiting participant
    /// learns of a new round at once without polling. Zero polls (every <c>retry_after_ms</c>).
    /// </summary>
    public TimeSpan TaskWait { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Rounds this participant submitted (accepted) in this run.</summary>
    public int SubmittedRounds { get; private set; }

    /// <summary>Runs until the server reports the run finished; returns its stop reason.</summary>
    public async Task<string> RunAsync(CancellationToken cancellationToken = default)
    {
        int failures = 0;
        var backoff = InitialBackoff;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var task = await _client.FetchTaskAsync(_progress.LastSubmittedRound, TaskWait, cancellationToken).ConfigureAwait(false);
                failures = 0;
                backoff = InitialBackoff;
                switch (task.Kind)
                {
                    case Wire.V1.RoundTask.Types.Kind.Finished:
                        LogFinished(task.StopReason);
                        return task.StopReason;
                    case Wire.V1.RoundTask.Types.Kind.Train when task.Round > _progress.LastSubmittedRound:
                        await ParticipateAsync(task, cancellationToken).ConfigureAwait(false);
                        break;
                    default:
                        // WAIT, or a TRAIN task for a round already submitted (e.g. before a restart): ask again later.
                        int wait = task.RetryAfterMs > 0 ? task.RetryAfterMs : 500;
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(wait, 10, 60_000)), cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
            catch (RpcException ex) when (IsTransient(ex.StatusCode) && !cancellationToken.IsCancellationRequested)
            {
                if (++failures >= MaxConsecutiveFailures)
                {
                    throw;
                }

                LogRetry(ex.StatusCode, backoff.TotalMilliseconds);
                // Jitter spreads retries of many clients; it needs no secrecy, but one random source keeps the rule simple.
                var jitter = TimeSpan.FromMilliseconds(((IRandomSource)CryptoRandomSource.Instance).NextDouble() * backoff.TotalMilliseconds / 2);
                await Task.Delay(backoff + jitter, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    private static bool IsTransient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted or StatusCode.Internal or StatusCode.ResourceExhausted or StatusCode.Unknown;

    private async Task ParticipateAsync(Wire.V1.RoundTask task, CancellationToken cancellationToken)
    {
        var global = await _client.FetchModelAsync(task.Round, encoded => Safetensors.Read(encoded.Span).Parameters, cancellationToken).ConfigureAwait(false);
        if (global.Layout.FingerprintHex != task.LayoutFingerprint)
        {
            throw new InvalidDataException($"The downloaded model's layout {global.Layout.FingerprintHex[..16]}… differs from the task's {task.LayoutFingerprint}.");
        }

        if (task.SecureAggregation is { } setup)
        {
            await SecureAggregateAsync(task, setup, global, cancellationToken).ConfigureAwait(false);
            return;
        }

        var settings = new LocalTrainingSettings(task.Training?.Epochs ?? 1, task.Training?.BatchSize ?? 32, task.Training?.LearningRate ?? 0.1);
        var result = _trainer.Train(global, settings, task.Round, cancellationToken);
        var (payload, length) = EncodeDelta(result.Trained, global, task.ClipNorm, out var clip);
        try
        {
            // A clipping client always reports its clip indicator: a server with adaptive clipping needs it, others ignore it.
            uint? indicator = clip is { } c ? (c.PreClipNorm <= task.ClipNorm ? 1u : 0u) : null;
            await _client.SubmitUpdateAsync(task.Round, task.LayoutFingerprint, payload.AsMemory(0, length), result.SampleCount, result.TrainLoss, indicator, cancellationToken).ConfigureAwait(false);
            SubmittedRounds++;
            LogSubmitted(task.Round, result.SampleCount);
        }
        catch (RpcException ex) when (!IsTransient(ex.StatusCode))
        {
            // A definitive answer (rejected, too late, already submitted): never send this round again.
            LogRefused(task.Round, ex.StatusCode, ex.Status.Detail);
        }
        finally
        {
            // The buffer held this client's individual update: cleared before the pool hands it to anyone else.
            ArrayPool<byte>.Shared.Return(payload, clearArray: true);
        }

        _progress.MarkSubmitted(task.Round);
        var evaluation = _trainer.Evaluate(result.Trained);
        if (evaluation is not null)
        {
            try
            {
                await _client.ReportMetricsAsync(task.Round, evaluation.Samples, evaluation.Loss, evaluation.Accuracy, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                LogRefused(task.Round, ex.StatusCode, ex.Status.Detail);
            }
        }
    }

    /// <summary>
    /// The safetensors encoding of trained − global, clipped to <paramref name="clipNorm"/> when it is positive, in a
    /// buffer rented from the shared pool (the caller returns it, cleared). The difference is computed straight into
    /// the encoded data (safetensors F32 data is little-endian floats in layout order), so no model-sized intermediate
    /// is allocated. <paramref name="clip"/> reports the pre-clip norm when the delta was clipped, else null.
    /// </summary>
    internal static (byte[] Buffer, int Length) EncodeDelta(ModelParameters trained, ModelParameters global, double clipNorm, out ClipReport? clip)
    {
        clip = null;
        if (trained.Layout.FingerprintHex != global.Layout.FingerprintHex)
        {
            throw new InvalidOperationException($"The trainer returned a model of layout {trained.Layout.FingerprintHex[..16]}…, not the global model's {global.Layout.FingerprintHex[..16]}….");
        }

        byte[] header = Safetensors.WriteHeader(global.Layout);
        int length = checked(header.Length + (4 * global.Length));
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        header.CopyTo(buffer, 0);
        var data = buffer.AsSpan(header.Length, 4 * global.Length);
        if (BitConverter.IsLittleEndian)
        {
            var values = MemoryMarshal.Cast<byte, float>(data);
            System.Numerics.Tensors.TensorPrimitives.Subtract(trained.AsSpan(), global.AsSpan(), values);
            if (clipNorm > 0)
            {
                clip = L2Clipping.Clip(values, clipNorm);
            }
        }
        else
        {
            var delta = new float[global.Length];
            System.Numerics.Tensors.TensorPrimitives.Subtract(trained.AsSpan(), global.AsSpan(), delta);
            if (clipNorm > 0)
            {
                clip = L2Clipping.Clip(delta, clipNorm);
            }

            for (int i = 0; i < delta.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(data[(4 * i)..], delta[i]);
            }
        }

        return (buffer, length);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Submitted round {Round} ({Samples} samples)")]
    private partial void LogSubmitted(long round, long samples);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Round {Round}: the server refused ({Code}): {Detail}")]
    private partial void LogRefused(long round, StatusCode code, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transient failure ({Code}); retrying in {DelayMs} ms")]
    private partial void LogRetry(StatusCode code, double delayMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "The run finished: {Reason}")]
    private partial void LogFinished(string reason);
}
