using Confide.Client.Internal;
using Confide.Parameters;
using Confide.Privacy;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Confide.Client;

/// <summary>The secure-aggregation path of <see cref="FederatedParticipant"/> (Bonawitz et al. 2017 over the SecAgg RPC).</summary>
public sealed partial class FederatedParticipant
{
    /// <summary>The source of every SecAgg secret and of the quantizer's rounding (the OS CSPRNG by default).</summary>
    public IRandomSource Random { get; init; } = CryptoRandomSource.Instance;

    /// <summary>
    /// This client's floor on distributed DP (Kairouz, Liu, Steinke 2021), as a noise multiplier z = √n_min·σ/Δ₂: it
    /// sits out a secure round whose setup asks for less client noise, or for none. Null (the default) accepts the
    /// server's setting, including central DP, where the server adds the noise and must be trusted.
    /// </summary>
    public double? MinimumDistributedNoise
    {
        get;
        init => field = value is null || (value > 0 && double.IsFinite(value.Value))
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MinimumDistributedNoise), value, "The noise floor must be a finite positive noise multiplier.");
    }

    /// <summary>Test hook: in secure rounds, vanish silently before sending this stage's message (a dropout).</summary>
    internal SecAggStage? VanishBeforeSecAggStage { get; init; }

    /// <summary>
    /// Runs a secure round: the update (trained − global, clipped when the server asks for client clipping) is quantized
    /// (under distributed DP: rounded conditionally and noised with N_Z(0, σ²) from <see cref="Random"/>) and masked by
    /// <see cref="SecAggWireClient"/>; the server only ever unmasks the sum. From the first SecAgg message
    /// on, the round counts as submitted: its protocol secrets are gone if this client restarts.
    /// </summary>
    private async Task SecureAggregateAsync(Wire.V1.RoundTask task, Wire.V1.SecAggSetup setup, ModelParameters global, CancellationToken cancellationToken)
    {
        var settings = new LocalTrainingSettings(task.Training?.Epochs ?? 1, task.Training?.BatchSize ?? 32, task.Training?.LearningRate ?? 0.1);
        var result = _trainer.Train(global, settings, task.Round, cancellationToken);
        float[] delta = result.Trained.AsSpan().ToArray();
        System.Numerics.Tensors.TensorPrimitives.Subtract(delta, global.AsSpan(), delta);
        // The clip indicator of adaptive clipping is taken before clipping: after it every norm is at most C.
        bool withinClip = L2Clipping.Norm(delta) <= (task.ClipNorm > 0 ? task.ClipNorm : setup.ClipRange);
        if (task.ClipNorm > 0)
        {
            L2Clipping.Clip(delta, task.ClipNorm);
        }

        _progress.MarkSubmitted(task.Round);
        try
        {
            var (outcome, detail) = await SecAggWireClient.RunAsync(_client, setup, task.Round, delta, result.SampleCount, withinClip, Random, VanishBeforeSecAggStage, MinimumDistributedNoise, cancellationToken).ConfigureAwait(false);
            if (outcome == SecAggWireOutcome.Completed)
            {
                SubmittedRounds++;
                LogSubmitted(task.Round, result.SampleCount);
            }
            else
            {
                LogSecAggEnded(task.Round, outcome.ToString(), detail);
            }
        }
        catch (RpcException ex) when (!IsTransient(ex.StatusCode))
        {
            // A definitive answer (dropped out, out of stage, malformed): this round is over for this client.
            LogRefused(task.Round, ex.StatusCode, ex.Status.Detail);
        }
        catch (InvalidDataException ex)
        {
            // The server's setup or messages do not validate, or the update does not fit the quantizer: sit this round out.
            LogSecAggEnded(task.Round, "refused", ex.Message);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(delta.AsSpan()));
        }

        if (_trainer.Evaluate(result.Trained) is { } evaluation)
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Round {Round}: secure aggregation ended for this client ({Outcome}): {Detail}")]
    private partial void LogSecAggEnded(long round, string outcome, string detail);
}
