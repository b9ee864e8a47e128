using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// Spreads a client's independent per-peer work (signature checks, agreements, share encryption, mask expansion) over
/// the cores once a neighbourhood is large enough to pay for it. Bodies write only their own slot of a result array, and
/// masks are summed mod 2^k, which is associative and commutative, so results do not depend on the schedule.
/// </summary>
internal static class SecAggParallel
{
    /// <summary>Below this many peers the work runs on the calling thread (SecAgg+ neighbourhoods are often smaller).</summary>
    public const int MinimumPeers = 16;

    private static readonly ParallelOptions Options = new() { MaxDegreeOfParallelism = Environment.ProcessorCount };

    /// <summary>Runs <paramref name="body"/> for 0 ≤ i &lt; <paramref name="count"/>, in parallel when count ≥ <see cref="MinimumPeers"/>.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count < MinimumPeers || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        try
        {
            Parallel.For(0, count, Options, body);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
        {
            // Bodies report expected failures through their results; anything thrown is a bug, kept as it was thrown.
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            throw;
        }
    }

    /// <summary>Runs two independent actions, side by side when <paramref name="peers"/> ≥ <see cref="MinimumPeers"/>.</summary>
    public static void Invoke(int peers, Action first, Action second)
    {
        if (peers < MinimumPeers || Environment.ProcessorCount == 1)
        {
            first();
            second();
            return;
        }

        try
        {
            Parallel.Invoke(Options, first, second);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            throw;
        }
    }

    /// <summary>
    /// total = total + Σ_i add(i) mod 2^k, where <paramref name="addInto"/>(i, acc) adds term i into acc mod 2^k. In parallel,
    /// each worker sums into its own zeroed buffer, and the buffers are added into <paramref name="total"/> at the end.
    /// </summary>
    public static void Accumulate<T>(T[] total, int count, Action<int, T[]> addInto, T modulusMask)
        where T : unmanaged, IBinaryInteger<T>
    {
        if (count < MinimumPeers || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < count; i++)
            {
                addInto(i, total);
            }

            return;
        }

        object gate = new();
        try
        {
            Parallel.For(
                0, count, Options,
                () => new T[total.Length],
                (i, _, local) =>
                {
                    addInto(i, local);
                    return local;
                },
                local =>
                {
                    lock (gate)
                    {
                        // Wrapping addition, then reduction to k bits (a no-op when k is the word size).
                        TensorPrimitives.Add<T>(total, local, total);
                        TensorPrimitives.BitwiseAnd<T>(total, modulusMask, total);
                    }

                    // A partial sum of masks reveals nothing without the input, but it is mask material: clear it.
                    CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(local.AsSpan()));
                });
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            throw;
        }
    }
}
