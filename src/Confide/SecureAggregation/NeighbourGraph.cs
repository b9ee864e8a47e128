using System.Text;
using Confide.Randomness;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// The communication graph of SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova, "Secure Single-Server Aggregation
/// with (Poly)Logarithmic Overhead", CCS 2020): each client masks with, and secret-shares to, only its k neighbours,
/// so costs fall from O(n) to O(k) with k = O(log n). Every party computes the same graph from a public 32-byte seed.
/// </summary>
/// <remarks>
/// <para>Construction (<see cref="Harary"/>): the Harary graph H_{k,n} laid over a uniformly random ordering of the
/// clients. Place the clients on a ring in the order of a Fisher–Yates shuffle; join each to the k/2 nearest on
/// either side, and for odd k (n must then be even) also to the client opposite. This graph is k-regular and,
/// for 2 ≤ k &lt; n, k-connected, so dropping fewer than k clients can never disconnect it (k = 1 is a perfect matching). The shuffle draws
/// uniform integers (rejection sampling, no modulo bias) from AES-128-CTR keyed by
/// HKDF-SHA256(seed, salt "Confide/SecAgg/MaskPrg/salt/v1", info "Confide/SecAgg/NeighbourGraph/v1"), so it is identical
/// on every platform: Fisher–Yates runs i from n − 1 down to 1, swapping position i with a uniform j in [0, i].</para>
/// <para>Bell et al. sample an Erdős–Rényi-style random graph; the Harary graph on a random permutation keeps the
/// random placement of neighbours (no party chooses its neighbourhood) while guaranteeing exact regularity and
/// connectivity. The seed must not be chosen by the server alone, or it could search for a graph that isolates a
/// victim with colluding clients: derive it from values every client contributes (for example a hash of all
/// advertised keys) or from a public beacon.</para>
/// </remarks>
public sealed class NeighbourGraph
{
    private static readonly byte[] GraphInfo = Encoding.ASCII.GetBytes("Confide/SecAgg/NeighbourGraph/v1");

    private readonly int[][] _neighbours;

    private NeighbourGraph(int[][] neighbours, int degree)
    {
        _neighbours = neighbours;
        Degree = degree;
    }

    /// <summary>The number of clients, numbered 0..n−1.</summary>
    public int Count => _neighbours.Length;

    /// <summary>k: every client has exactly this many neighbours.</summary>
    public int Degree { get; }

    /// <summary>The complete graph (the original Bonawitz et al. protocol): everyone is everyone's neighbour.</summary>
    public static NeighbourGraph Complete(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        var neighbours = new int[count][];
        for (int i = 0; i < count; i++)
        {
            neighbours[i] = Enumerable.Range(0, count).Where(j => j != i).ToArray();
        }

        return new NeighbourGraph(neighbours, count - 1);
    }

    /// <summary>The k-regular Harary graph over a random ordering of <paramref name="count"/> clients drawn from <paramref name="seed"/>.</summary>
    /// <param name="count">n, at least 2.</param>
    /// <param name="degree">k, from 1 to n − 1; when k is odd, n must be even (no k-regular graph exists otherwise).</param>
    /// <param name="seed">A public 32-byte seed that every party knows.</param>
    public static NeighbourGraph Harary(int count, int degree, ReadOnlySpan<byte> seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        if (degree < 1 || degree >= count)
        {
            throw new ArgumentOutOfRangeException(nameof(degree), degree, $"The degree must be between 1 and n - 1 = {count - 1}.");
        }

        if (degree % 2 == 1 && count % 2 == 1)
        {
            throw new ArgumentException($"No {degree}-regular graph on {count} vertices exists (odd degree needs an even number of clients); use degree {degree + 1} or {degree - 1}.", nameof(degree));
        }

        if (seed.Length != MaskPrg.SeedSize)
        {
            throw new ArgumentException($"The graph seed must be {MaskPrg.SeedSize} bytes; got {seed.Length}.", nameof(seed));
        }

        // order[p] = the client at ring position p.
        var order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        using (var random = new PrgRandomSource(MaskPrg.FromSeed(seed, GraphInfo, AesCtrBackend.Auto)))
        {
            IRandomSource source = random;
            for (int i = count - 1; i > 0; i--)
            {
                int j = (int)source.NextUInt64Below((ulong)i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }

        var neighbours = new int[count][];
        int half = degree / 2;
        for (int p = 0; p < count; p++)
        {
            var list = new int[degree];
            int m = 0;
            for (int d = 1; d <= half; d++)
            {
                list[m++] = order[(p + d) % count];
                list[m++] = order[(p - d + count) % count];
            }

            if (degree % 2 == 1)
            {
                list[m++] = order[(p + (count / 2)) % count];
            }

            Array.Sort(list);
            neighbours[order[p]] = list;
        }

        return new NeighbourGraph(neighbours, degree);
    }

    /// <summary>
    /// The even degree Bell et al. suggest for n clients, about 2·log2 n (rounded up to even), capped at n − 1:
    /// 18 for 500 clients.
    /// </summary>
    public static int RecommendedDegree(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 2);
        int k = (int)Math.Ceiling(2 * Math.Log2(count));
        k += k % 2;
        return Math.Min(k, count - 1);
    }

    /// <summary>The neighbours of <paramref name="client"/>, in increasing order.</summary>
    public ReadOnlySpan<int> Neighbours(int client)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(client);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(client, Count);
        return _neighbours[client];
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> are neighbours.</summary>
    public bool AreNeighbours(int a, int b) => a != b && Neighbours(a).BinarySearch(b) >= 0;

    /// <summary>Whether the clients in <paramref name="members"/> (all of them if null) form one connected component of the graph restricted to them.</summary>
    public bool IsConnected(IReadOnlySet<int>? members = null)
    {
        int start = members is null ? 0 : members.Count == 0 ? -1 : members.Min();
        if (start < 0)
        {
            return true;
        }

        var seen = new bool[Count];
        var queue = new Queue<int>();
        queue.Enqueue(start);
        seen[start] = true;
        int reached = 1;
        while (queue.Count > 0)
        {
            int v = queue.Dequeue();
            foreach (int w in _neighbours[v])
            {
                if (!seen[w] && (members is null || members.Contains(w)))
                {
                    seen[w] = true;
                    reached++;
                    queue.Enqueue(w);
                }
            }
        }

        return reached == (members?.Count ?? Count);
    }

    /// <inheritdoc/>
    public override string ToString() => $"NeighbourGraph(n = {Count}, k = {Degree})";
}
