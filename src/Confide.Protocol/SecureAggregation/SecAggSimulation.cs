using System.Diagnostics;
using Confide.Privacy;
using Confide.Protocol.SecureAggregation.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Runs one complete secure-aggregation round in process (Bonawitz et al. 2017; SecAgg+ neighbourhoods of Bell et al. 2020):
/// n <see cref="SecAggClient"/>s and one <see cref="SecAggServer"/> with real cryptography, passing messages by hand and
/// dropping the clients <see cref="SecAggDropouts"/> names. Used by tests, the simulate command and <c>confide secagg bench</c>.
/// </summary>
/// <remarks>
/// Every secret (identity keys, client keys, seeds, Shamir coefficients, nonces) comes from the random source passed to <see cref="Run"/> and its
/// forks, so a seeded source replays a round exactly. By default the client steps of one stage run in parallel across
/// clients, which is fastest but makes a client's wall time meaningless (clients share the cores); with
/// <c>clientsOneAtATime</c> each client runs alone, using the cores for its own per-peer work, so its wall time is the
/// latency one device would see. Times come from <see cref="Stopwatch"/> and the process CPU clock and only describe
/// cost, never protocol behaviour.
/// </remarks>
public static class SecAggSimulation
{
    /// <summary>Runs a round over <paramref name="inputs"/> (one quantized vector in Z_{2^k} per client).</summary>
    /// <param name="inputs">One quantized vector in Z_{2^k} per client.</param>
    /// <param name="options">The protocol options.</param>
    /// <param name="dropouts">Who vanishes and when.</param>
    /// <param name="random">The source of every secret.</param>
    /// <param name="clientsOneAtATime">Run the clients of a stage one after another instead of in parallel, so that each client's
    /// wall time is measured without other clients competing for the cores (for benchmarks; the result is the same).</param>
    public static SecAggSimulationResult Run(IReadOnlyList<ulong[]> inputs, SecAggOptions options, SecAggDropouts dropouts, IRandomSource random, bool clientsOneAtATime = false)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dropouts);
        ArgumentNullException.ThrowIfNull(random);
        int n = options.ClientCount;
        if (inputs.Count != n)
        {
            throw new ArgumentException($"{inputs.Count} inputs given for {n} clients.", nameof(inputs));
        }

        var identities = new IdentityKeyPair[n];
        for (int u = 0; u < n; u++)
        {
            identities[u] = IdentityKeyPair.Generate(random);
        }

        byte[] graphSeed = new byte[32];
        random.NextBytes(graphSeed);
        string sessionId = $"sim-{random.NextUInt64():x16}";
        var session = new SecAggSession(sessionId, 0, options, identities.Select(k => k.PublicKey).ToArray(), graphSeed);

        var clients = new SecAggClient[n];
        var clientRandom = new IRandomSource[n];
        for (int u = 0; u < n; u++)
        {
            clientRandom[u] = random.Fork((ulong)u + 1);
            clients[u] = new SecAggClient(session, u, identities[u], inputs[u], clientRandom[u]);
        }

        var server = new SecAggServer(session, random.Fork(0));
        long[] clientTicks = new long[n];
        long[] clientBytes = new long[n];
        var serverMs = new Dictionary<SecAggStage, double>();
        var serverCpu = new Dictionary<SecAggStage, double>();
        var clientStageCpu = new Dictionary<SecAggStage, double>();
        var clientStageWall = new Dictionary<SecAggStage, double>();
        double clientCpu = 0;
        using var process = Process.GetCurrentProcess();
        SecAggServerMessage?[] inbox = new SecAggServerMessage?[n];
        try
        {
            for (var stage = SecAggStage.AdvertiseKeys; stage <= SecAggStage.Unmasking; stage++)
            {
                var outgoing = new SecAggClientMessage?[n];
                SecAggStage current = stage;
                int acting = 0;
                long stageTicks = 0;
                TimeSpan cpuStart = Cpu(process);
                void Step(int u)
                {
                    bool reached = current == SecAggStage.AdvertiseKeys || inbox[u] is not null;
                    if (!reached || !dropouts.Sends(u, current))
                    {
                        return;
                    }

                    Interlocked.Increment(ref acting);
                    long start = Stopwatch.GetTimestamp();
                    outgoing[u] = current == SecAggStage.AdvertiseKeys ? clients[u].AdvertiseKeys() : clients[u].Handle(inbox[u]!);
                    long elapsed = Stopwatch.GetTimestamp() - start;
                    clientTicks[u] += elapsed;
                    Interlocked.Add(ref stageTicks, elapsed);
                    if (inbox[u] is not null)
                    {
                        clientBytes[u] += SecAggWireSize.Of(inbox[u]!);
                    }

                    clientBytes[u] += SecAggWireSize.Of(outgoing[u]!, options.ModulusBits);
                }

                if (clientsOneAtATime)
                {
                    for (int u = 0; u < n; u++)
                    {
                        Step(u);
                    }
                }
                else
                {
                    Parallel.For(0, n, Step);
                }

                double stageCpu = acting == 0 ? 0 : (Cpu(process) - cpuStart).TotalMilliseconds / acting;
                clientCpu += stageCpu;
                clientStageCpu[stage] = stageCpu;
                clientStageWall[stage] = acting == 0 ? 0 : stageTicks * 1000.0 / Stopwatch.Frequency / acting;
                TimeSpan serverCpuStart = Cpu(process);
                long serverStart = Stopwatch.GetTimestamp();
                foreach (SecAggClientMessage? message in outgoing)
                {
                    if (message is not null)
                    {
                        server.Receive(message);
                    }
                }

                IReadOnlyList<SecAggServerMessage> replies;
                try
                {
                    replies = server.CloseStage();
                }
                finally
                {
                    serverMs[stage] = Stopwatch.GetElapsedTime(serverStart).TotalMilliseconds;
                    serverCpu[stage] = (Cpu(process) - serverCpuStart).TotalMilliseconds;
                }

                Array.Clear(inbox);
                foreach (SecAggServerMessage reply in replies)
                {
                    inbox[reply.Recipient] = reply;
                }
            }
        }
        catch (SecAggProtocolException ex) when (server.Stage == SecAggStage.Aborted)
        {
            return new SecAggSimulationResult(session, null, ex, MeanMs(clientTicks, clients), serverMs, MeanBytes(clientBytes, clients), clientCpu, serverCpu)
            {
                ClientCpuMillisecondsByStage = clientStageCpu,
                ClientWallMillisecondsByStage = clientStageWall,
                ClientsOneAtATime = clientsOneAtATime,
            };
        }
        finally
        {
            foreach (SecAggClient c in clients)
            {
                c.Dispose();
            }

            foreach (IdentityKeyPair k in identities)
            {
                k.Dispose();
            }
        }

        return new SecAggSimulationResult(session, server.Result, null, MeanMs(clientTicks, clients), serverMs, MeanBytes(clientBytes, clients), clientCpu, serverCpu)
        {
            ClientCpuMillisecondsByStage = clientStageCpu,
            ClientWallMillisecondsByStage = clientStageWall,
            ClientsOneAtATime = clientsOneAtATime,
        };
    }

    /// <summary>
    /// Quantizes each client's update (clipped, weighted by its sample count, stochastically rounded into Z_{2^k}, with the
    /// weight appended as one more coordinate), runs a round, and decodes the survivors' weighted mean. The server never sees
    /// an individual update or weight.
    /// </summary>
    /// <param name="updates">One float vector of length D per client.</param>
    /// <param name="weights">Each client's sample count.</param>
    /// <param name="quantizer">The quantizer; its modulus must match <paramref name="options"/> and it must allow n clients.</param>
    /// <param name="options">Protocol options with dimension D + 1.</param>
    /// <param name="dropouts">Who vanishes and when.</param>
    /// <param name="random">Every random draw: quantization rounding, DP noise and the protocol's secrets.</param>
    /// <param name="noise">Distributed DP noise added by each client before masking, or null for none.</param>
    public static SecAggMeanResult RunWeightedMean(
        IReadOnlyList<float[]> updates,
        IReadOnlyList<long> weights,
        StochasticQuantizer quantizer,
        SecAggOptions options,
        SecAggDropouts dropouts,
        IRandomSource random,
        SecAggNoiseOptions? noise = null)
    {
        ArgumentNullException.ThrowIfNull(updates);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(quantizer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        if (updates.Count != options.ClientCount || weights.Count != options.ClientCount)
        {
            throw new ArgumentException($"{updates.Count} updates and {weights.Count} weights given for {options.ClientCount} clients.", nameof(updates));
        }

        if (quantizer.Options.ModulusBits != options.ModulusBits)
        {
            throw new ArgumentException($"The quantizer works in Z_2^{quantizer.Options.ModulusBits} but the protocol in Z_2^{options.ModulusBits}.", nameof(quantizer));
        }

        if (quantizer.Options.MaxClients < options.ClientCount)
        {
            throw new ArgumentException($"The quantizer's headroom covers {quantizer.Options.MaxClients} clients, fewer than the {options.ClientCount} in the round: the sum could overflow.", nameof(quantizer));
        }

        DiscreteGaussian? sampler = null;
        long tail = 0;
        if (noise is not null)
        {
            long required = noise.RequiredHeadroom(quantizer.Options.Scale);
            if (required > quantizer.Options.NoiseHeadroomPerClient)
            {
                throw new ArgumentException(
                    $"The DP noise needs {required} quanta of headroom per client ({noise.TailBound}·σ_c with σ_c = {noise.ClientSigma(quantizer.Options.Scale):G4}) but the quantizer reserves {quantizer.Options.NoiseHeadroomPerClient}: the sum could overflow.",
                    nameof(noise));
            }

            sampler = new DiscreteGaussian(noise.ClientSigma(quantizer.Options.Scale));
            tail = required;
        }

        int d = options.Dimension - 1;
        var inputs = new ulong[updates.Count][];
        IRandomSource rounding = random.Fork(ulong.MaxValue);
        IRandomSource noiseRandom = random.Fork(ulong.MaxValue - 1);
        ulong modMask = options.ModulusMask;
        for (int u = 0; u < updates.Count; u++)
        {
            if (updates[u].Length != d)
            {
                throw new ArgumentException($"Update {u} has {updates[u].Length} values; the options' dimension {options.Dimension} is D + 1 = {d} + 1.", nameof(updates));
            }

            inputs[u] = quantizer.Quantize(updates[u], weights[u], rounding);
            if (sampler is not null)
            {
                unchecked
                {
                    for (int i = 0; i < d; i++)
                    {
                        long z;
                        do
                        {
                            z = sampler.Sample(noiseRandom);
                        }
                        while (Math.Abs(z) > tail);

                        inputs[u][i] = (inputs[u][i] + (ulong)z) & modMask;
                    }
                }
            }
        }

        SecAggSimulationResult round = Run(inputs, options, dropouts, random);
        if (!round.Completed)
        {
            return new SecAggMeanResult(round, null, 0, double.NaN);
        }

        float[] mean = new float[d];
        long total = quantizer.DequantizeMean(round.Result!.Sum, mean);
        double noiseSigma = sampler is null ? 0 : Math.Sqrt(round.Result.Survivors.Count) * sampler.Sigma / (quantizer.Options.Scale * total);
        return new SecAggMeanResult(round, mean, total, quantizer.MeanErrorBound(round.Result.Survivors.Count, total), noiseSigma);
    }

    /// <summary>Σ inputs[u] mod 2^k over <paramref name="clients"/>: the value a completed round must reproduce.</summary>
    public static ulong[] PlainSum(IReadOnlyList<ulong[]> inputs, IEnumerable<int> clients, int modulusBits)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(clients);
        ulong mask = modulusBits >= 64 ? ulong.MaxValue : (1UL << modulusBits) - 1;
        ulong[] sum = new ulong[inputs.Count == 0 ? 0 : inputs[0].Length];
        unchecked
        {
            foreach (int u in clients)
            {
                for (int i = 0; i < sum.Length; i++)
                {
                    sum[i] = (sum[i] + inputs[u][i]) & mask;
                }
            }
        }

        return sum;
    }

    private static TimeSpan Cpu(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    private static double MeanMs(long[] ticks, SecAggClient[] clients)
    {
        var done = Enumerable.Range(0, clients.Length).Where(u => clients[u].Stage == SecAggStage.Completed).ToArray();
        return done.Length == 0 ? 0 : done.Average(u => ticks[u]) * 1000.0 / Stopwatch.Frequency;
    }

    private static double MeanBytes(long[] bytes, SecAggClient[] clients)
    {
        var done = Enumerable.Range(0, clients.Length).Where(u => clients[u].Stage == SecAggStage.Completed).ToArray();
        return done.Length == 0 ? 0 : done.Average(u => (double)bytes[u]);
    }
}
