using System.Buffers.Binary;
using Confide.Privacy;
using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Client.Internal;

/// <summary>How a client's part in a secure round ended.</summary>
internal enum SecAggWireOutcome
{
    /// <summary>The client sent its UnmaskingResponse (or learnt the round completed).</summary>
    Completed,

    /// <summary>The round aborted, or this client refused to continue (evidence of a misbehaving server).</summary>
    Aborted,

    /// <summary>The test hook made the client vanish before a stage.</summary>
    Vanished,
}

/// <summary>
/// The client side of secure aggregation over gRPC: checks the round's <see cref="SecAggSetup"/>, quantizes the
/// clipped, weighted update, runs a <see cref="SecAggClient"/> (Bonawitz et al. 2017) and carries its messages over the
/// SecAgg RPC, polling for each stage's input. Maps strictly: a server message naming a client outside the roster, or
/// a setup that does not validate, is refused with <see cref="InvalidDataException"/>.
/// </summary>
internal static class SecAggWireClient
{
    private const int MaxAttempts = 6;

    /// <summary>How long the server may hold a poll (a long poll): a client learns of a closed stage at once.</summary>
    private const int LongPollMs = 5_000;

    /// <summary>Runs this client's part of the secure round; returns how it ended.</summary>
    /// <param name="client">The connection (enrolled; its key is the roster's identity key).</param>
    /// <param name="setup">The task's SecAgg setup.</param>
    /// <param name="round">The round.</param>
    /// <param name="delta">The update (trained − global), already clipped when the server asked for client clipping.</param>
    /// <param name="sampleCount">The local sample count (the FedAvg weight without DP).</param>
    /// <param name="withinClip">The clip indicator (the update's norm before clipping was at most the clip norm), sent
    /// inside the secure sum when the setup asks for it (adaptive clipping).</param>
    /// <param name="random">Every secret the protocol draws, and the quantizer's rounding: a CSPRNG in production.</param>
    /// <param name="vanishBefore">Test hook: stop silently before sending this stage's message.</param>
    /// <param name="minimumNoiseMultiplier">This client's own floor on distributed DP: refuse a round whose noise is below
    /// z = √n_min·σ/Δ₂ (or that carries no client noise at all); null accepts what the server sets.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public static async Task<(SecAggWireOutcome Outcome, string Detail)> RunAsync(
        FederationClient client,
        SecAggSetup setup,
        long round,
        float[] delta,
        long sampleCount,
        bool withinClip,
        IRandomSource random,
        SecAggStage? vanishBefore,
        double? minimumNoiseMultiplier,
        CancellationToken cancellationToken)
    {
        var (session, me, roster, quantizer) = Open(setup, round, client.ClientId!, delta.Length);
        var noise = OpenNoise(setup, delta.Length, minimumNoiseMultiplier);
        if (setup.UnitWeight)
        {
            L2Clipping.Clip(delta, quantizer.Options.ClipRange);
        }

        long weight = setup.UnitWeight ? 1 : sampleCount;
        if (weight < 1 || weight > quantizer.Options.MaxWeight)
        {
            throw new InvalidDataException($"The sample count {sampleCount} is outside the 1 … {quantizer.Options.MaxWeight} the secure round's quantizer allows.");
        }

        if (noise is not null && setup.ClipIndicator)
        {
            throw new InvalidDataException("The server's SecAgg setup asks for both distributed-DP noise and the clip indicator; the two are not combined (the indicator would be noised with the model's σ).");
        }

        ulong[] input = noise is not null
            ? EncodeNoisy(noise, delta, NoiseRandom(random, round))
            : setup.ClipIndicator
                ? ClipIndicatorEncoding.Quantize(quantizer, delta, weight, withinClip, random)
                : quantizer.Quantize(delta, weight, random);
        var index = roster.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);
        using var secAgg = new SecAggClient(session, me, client.IdentityKey, input, random);
        try
        {
            if (vanishBefore == SecAggStage.AdvertiseKeys)
            {
                return (SecAggWireOutcome.Vanished, "vanished before AdvertiseKeys");
            }

            var response = await SendAsync(client, Request(round, setup.SessionId, secAgg.AdvertiseKeys(), roster, session.Options.ModulusBits), cancellationToken).ConfigureAwait(false);
            bool justSent = true;
            while (true)
            {
                switch (response.Outcome)
                {
                    case "completed":
                        return (SecAggWireOutcome.Completed, "the round completed");
                    case "aborted":
                        return (SecAggWireOutcome.Aborted, response.Detail);
                    case "":
                        break;
                    default:
                        throw new InvalidDataException($"Unknown SecAgg outcome '{response.Outcome}'.");
                }

                SecAggServerMessage? next = Decode(response, session, me, index);
                if (next is null)
                {
                    // Right after a stage message the long poll starts at once; after a poll that came back empty the
                    // client waits retry_after_ms first (a server that does not hold polls is not hammered).
                    if (!justSent)
                    {
                        int wait = Math.Clamp(response.RetryAfterMs > 0 ? response.RetryAfterMs : setup.PollIntervalMs, 10, 10_000);
                        await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                    }

                    response = await SendAsync(client, Poll(round, setup.SessionId), cancellationToken).ConfigureAwait(false);
                    justSent = false;
                    continue;
                }

                if (vanishBefore == next.Stage)
                {
                    return (SecAggWireOutcome.Vanished, $"vanished before {next.Stage}");
                }

                if (noise is not null && TooFewForTheNoise(next, noise) is { } refusal)
                {
                    // Signing or unmasking a smaller sum would release it with less noise than calibrated.
                    return (SecAggWireOutcome.Aborted, refusal);
                }

                SecAggClientMessage reply = secAgg.Handle(next);
                response = await SendAsync(client, Request(round, setup.SessionId, reply, roster, session.Options.ModulusBits), cancellationToken).ConfigureAwait(false);
                justSent = true;
                if (reply is UnmaskingResponseMessage)
                {
                    return (SecAggWireOutcome.Completed, "sent the unmasking shares");
                }
            }
        }
        catch (SecAggProtocolException ex)
        {
            // The client refused to go on (a bad signature, an inconsistent survivor list…): it has zeroed its secrets.
            return (SecAggWireOutcome.Aborted, ex.Message);
        }
        finally
        {
            // The unmasked quantized update is as sensitive as the update itself.
            Array.Clear(input);
        }
    }

    /// <summary>
    /// Sends one request, retrying transient failures (unavailable, deadline exceeded, rate limited…) a few times with
    /// exponential backoff: a secure round cannot be rejoined, so one lost call must not cost the round. When a stage
    /// message was delivered but its answer was lost, the retry gets ALREADY_EXISTS; the client then polls instead.
    /// </summary>
    private static Task<SecAggResponse> SendAsync(FederationClient client, SecAggRequest request, CancellationToken cancellationToken) =>
        SendWithRetryAsync(client.SecAggAsync, request, TimeSpan.FromMilliseconds(100), cancellationToken);

    /// <summary>The retry rule of <see cref="SendAsync"/> over any call (tests pass a fake one).</summary>
    internal static async Task<SecAggResponse> SendWithRetryAsync(
        Func<SecAggRequest, CancellationToken, Task<SecAggResponse>> call, SecAggRequest request, TimeSpan firstDelay, CancellationToken cancellationToken)
    {
        var delay = firstDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call(request, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex) when (attempt > 1 && ex.StatusCode == StatusCode.AlreadyExists && request.StageCase != SecAggRequest.StageOneofCase.Poll)
            {
                request = Poll(request.Round, request.SessionId);
            }
            catch (RpcException ex) when (attempt < MaxAttempts && IsTransient(ex.StatusCode) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    private static bool IsTransient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Aborted or StatusCode.Internal or StatusCode.Unknown;

    private static SecAggRequest Poll(long round, string sessionId) => new() { Round = round, SessionId = sessionId, Poll = new SecAggPoll { WaitMs = LongPollMs } };

    /// <summary>Validates the setup and builds the session, this client's protocol id, the roster and the quantizer.</summary>
    internal static (SecAggSession Session, int Me, string[] Roster, StochasticQuantizer Quantizer) Open(SecAggSetup setup, long round, string clientId, int modelLength)
    {
        try
        {
            string[] roster = setup.Roster.Select(r => r.ClientId).ToArray();
            if (roster.Distinct(StringComparer.Ordinal).Count() != roster.Length)
            {
                throw new InvalidDataException("The SecAgg roster names a client twice.");
            }

            int me = Array.IndexOf(roster, clientId);
            if (me < 0)
            {
                throw new InvalidDataException($"The SecAgg roster does not include this client ('{clientId}').");
            }

            var keys = setup.Roster.Select(r => IdentityPublicKey.FromBytes(r.IdentityPublicKey.Span)).ToArray();
            var options = new SecAggOptions(roster.Length, setup.Threshold, setup.Dimension, setup.NeighbourCount, setup.ModulusBits, setup.SignatureQuorum);
            int expected = setup.ClipIndicator ? ClipIndicatorEncoding.EncodedLength(modelLength) : StochasticQuantizer.EncodedLength(modelLength);
            if (setup.Dimension != expected)
            {
                throw new InvalidDataException($"The SecAgg dimension {setup.Dimension} does not fit a model of {modelLength} parameters (expected {expected}{(setup.ClipIndicator ? ", with the clip indicator" : "")}).");
            }

            if (setup.ClipIndicator && (!setup.UnitWeight || setup.ClipIndicatorIndex != setup.Dimension - 1))
            {
                throw new InvalidDataException($"The clip indicator needs unit weights and the last coordinate (index {setup.Dimension - 1}); the setup says unit_weight = {setup.UnitWeight}, index {setup.ClipIndicatorIndex}.");
            }

            var quantizer = new StochasticQuantizer(new QuantizerOptions(setup.ClipRange, setup.Scale, setup.MaxWeight, setup.MaxClients, setup.ModulusBits));
            if (quantizer.Options.MaxClients < roster.Length)
            {
                throw new InvalidDataException($"The quantizer's headroom covers {setup.MaxClients} clients, fewer than the {roster.Length} in the roster: the sum could wrap.");
            }

            return (new SecAggSession(setup.SessionId, round, options, keys, setup.GraphSeed.Span), me, roster, quantizer);
        }
        catch (Exception ex) when (ex is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new InvalidDataException($"The server's SecAgg setup is invalid: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The distributed-DP plan of the setup (Kairouz, Liu, Steinke 2021), rebuilt and checked here, or null when the
    /// setup asks for no client noise. Refused with <see cref="InvalidDataException"/>: noise fields without a variance,
    /// noise without unit weight, numbers the plan refuses (no noise, β outside [0, 1), n_min outside 2 … max_clients, a
    /// noisy sum that could wrap), or noise below <paramref name="minimumNoiseMultiplier"/>. The headroom and the norm
    /// bound come from the plan, never from the server.
    /// </summary>
    internal static DistributedDpPlan? OpenNoise(SecAggSetup setup, int modelLength, double? minimumNoiseMultiplier)
    {
        if (setup.DpNoiseVariance == 0)
        {
            if (setup.DpMinSurvivors != 0 || setup.DpRoundingBeta != 0)
            {
                throw new InvalidDataException("The server's SecAgg setup sets distributed-DP fields but no noise variance: refusing to send an unnoised update it may treat as noised.");
            }

            return minimumNoiseMultiplier is double floor
                ? throw new InvalidDataException($"This client requires distributed DP noise of at least z = {floor:G4}, and the round asks for none.")
                : null;
        }

        if (!setup.UnitWeight || setup.MaxWeight != 1)
        {
            throw new InvalidDataException("The server's distributed-DP setup must use unit weight (max_weight 1): a client's sample count would raise its sensitivity.");
        }

        DistributedDpPlan plan;
        try
        {
            plan = new DistributedDpPlan(setup.ClipRange, setup.Scale, setup.ModulusBits, setup.MaxClients, modelLength, setup.DpNoiseVariance, setup.DpMinSurvivors, setup.DpRoundingBeta);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"The server's distributed-DP setup is invalid: {ex.Message}", ex);
        }

        if (minimumNoiseMultiplier is double min && !(plan.EffectiveNoiseMultiplier >= min))
        {
            throw new InvalidDataException($"The round's distributed noise is z = {plan.EffectiveNoiseMultiplier:G4} at {plan.MinimumSurvivors} survivors, below this client's floor of {min:G4}.");
        }

        return plan;
    }

    /// <summary>The source of this round's rounding and noise: its own fork per round, so seeded replays can rebuild it.</summary>
    internal static IRandomSource NoiseRandom(IRandomSource random, long round) => random.Fork(unchecked(NoiseStream + (ulong)round));

    private const ulong NoiseStream = 0x6444_5000_0000_0000;

    private static ulong[] EncodeNoisy(DistributedDpPlan plan, float[] delta, IRandomSource random)
    {
        try
        {
            return plan.Encode(delta, random);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"The update cannot be encoded for distributed DP: {ex.Message}", ex);
        }
    }

    private static string? TooFewForTheNoise(SecAggServerMessage message, DistributedDpPlan plan)
    {
        int? survivors = message switch
        {
            SurvivorListMessage m => m.Survivors.Count,
            UnmaskingRequestMessage m => m.Survivors.Count,
            _ => null,
        };
        return survivors < plan.MinimumSurvivors
            ? $"the server's survivor list has {survivors} clients, fewer than the {plan.MinimumSurvivors} the distributed DP noise is calibrated for; refusing to help release that sum"
            : null;
    }

    private static SecAggRequest Request(long round, string sessionId, SecAggClientMessage message, string[] roster, int modulusBits)
    {
        var request = new SecAggRequest { Round = round, SessionId = sessionId };
        switch (message)
        {
            case AdvertiseKeysMessage m:
                request.AdvertiseKeys = new AdvertiseKeys
                {
                    EncryptionPublicKey = ByteString.CopyFrom(m.CipherPublicKey),
                    MaskPublicKey = ByteString.CopyFrom(m.MaskPublicKey),
                    Signature = ByteString.CopyFrom(m.Signature),
                };
                break;
            case ShareKeysMessage m:
                request.ShareKeys = new ShareKeys
                {
                    Shares = { m.Shares.Select(s => new EncryptedShareBundle { FromClientId = roster[s.Sender], ToClientId = roster[s.Receiver], Ciphertext = ByteString.CopyFrom(s.Ciphertext) }) },
                };
                break;
            case MaskedInputMessage m:
                int width = modulusBits <= 32 ? 4 : 8;
                byte[] bytes = new byte[m.MaskedInput.Length * width];
                for (int i = 0; i < m.MaskedInput.Length; i++)
                {
                    if (width == 4)
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * i), checked((uint)m.MaskedInput[i]));
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 * i), m.MaskedInput[i]);
                    }
                }

                request.MaskedInput = new MaskedInput { Masked = ByteString.CopyFrom(bytes) };
                break;
            case ConsistencySignatureMessage m:
                request.ConsistencySignature = new ConsistencySignature { Signature = ByteString.CopyFrom(m.Signature) };
                break;
            case UnmaskingResponseMessage m:
                request.UnmaskingResponse = new UnmaskingResponse
                {
                    SelfMaskShares = { m.SelfMaskShares.Select(s => new RevealedShareEntry { OwnerClientId = roster[s.Owner], Share = ByteString.CopyFrom(s.Share) }) },
                    MaskKeyShares = { m.MaskKeyShares.Select(s => new RevealedShareEntry { OwnerClientId = roster[s.Owner], Share = ByteString.CopyFrom(s.Share) }) },
                };
                break;
            default:
                throw new ArgumentException($"Unknown client message type {message.GetType().Name}.", nameof(message));
        }

        return request;
    }

    private static SecAggServerMessage? Decode(SecAggResponse response, SecAggSession session, int me, Dictionary<string, int> index)
    {
        string sid = session.SessionId;
        long round = session.Round;
        return response.NextCase switch
        {
            SecAggResponse.NextOneofCase.None => null,
            SecAggResponse.NextOneofCase.KeysBroadcast => new KeysBroadcastMessage(sid, round, me, response.KeysBroadcast.Peers
                .Select(p => new AdvertiseKeysMessage(sid, round, Lookup(index, p.ClientId), p.Keys?.EncryptionPublicKey.ToByteArray() ?? [], p.Keys?.MaskPublicKey.ToByteArray() ?? [], p.Keys?.Signature.ToByteArray() ?? []))
                .ToArray()),
            SecAggResponse.NextOneofCase.SharesDelivery => new SharesDeliveryMessage(sid, round, me, response.SharesDelivery.Shares
                .Select(s => new EncryptedShare(Lookup(index, s.FromClientId), Lookup(index, s.ToClientId), s.Ciphertext.ToByteArray()))
                .ToArray()),
            SecAggResponse.NextOneofCase.SurvivorList => new SurvivorListMessage(sid, round, me, response.SurvivorList.Survivors.Select(id => Lookup(index, id)).ToArray()),
            SecAggResponse.NextOneofCase.UnmaskingRequest => new UnmaskingRequestMessage(sid, round, me,
                response.UnmaskingRequest.Survivors.Select(id => Lookup(index, id)).ToArray(),
                response.UnmaskingRequest.Dropped.Select(id => Lookup(index, id)).ToArray(),
                response.UnmaskingRequest.Signatures.Select(s => new ConsistencySignatureMessage(sid, round, Lookup(index, s.ClientId), s.Signature.ToByteArray())).ToArray()),
            _ => throw new InvalidDataException($"Unknown SecAgg response payload {response.NextCase}."),
        };
    }

    private static int Lookup(Dictionary<string, int> index, string clientId) =>
        index.TryGetValue(clientId, out int u) ? u : throw new InvalidDataException($"The server's SecAgg message names client '{(clientId.Length > 64 ? clientId[..64] : clientId)}', who is not in the round's roster.");
}
