using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Confide.Protocol.SecureAggregation.Internal;

// INTERIM: the primitives' SecAgg+ neighbour graph has not landed yet; this Harary graph on a seeded permutation stands in.
internal static partial class SecAggCrypto
{
    public static int[][] NeighbourGraph(int n, int k, ReadOnlySpan<byte> seed)
    {
        var neighbours = new SortedSet<int>[n];
        for (int i = 0; i < n; i++)
        {
            neighbours[i] = [];
        }

        if (k == n - 1)
        {
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    if (i != j)
                    {
                        neighbours[i].Add(j);
                    }
                }
            }
        }
        else
        {
            // A Harary graph on a seeded permutation of the clients.
            int[] order = Enumerable.Range(0, n).ToArray();
            byte[] key = SHA256.HashData(seed);
            Span<byte> block = stackalloc byte[36];
            for (int i = n - 1; i > 0; i--)
            {
                key.CopyTo(block);
                BinaryPrimitives.WriteInt32LittleEndian(block[32..], i);
                ulong r = BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(block));
                int j = (int)(r % (ulong)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }

            for (int p = 0; p < n; p++)
            {
                for (int d = 1; d <= k / 2; d++)
                {
                    Link(neighbours, order[p], order[(p + d) % n]);
                }

                if (k % 2 == 1)
                {
                    Link(neighbours, order[p], order[(p + (n / 2)) % n]);
                }
            }
        }

        return neighbours.Select(s => s.ToArray()).ToArray();
    }

    private static void Link(SortedSet<int>[] neighbours, int a, int b)
    {
        neighbours[a].Add(b);
        neighbours[b].Add(a);
    }
}
