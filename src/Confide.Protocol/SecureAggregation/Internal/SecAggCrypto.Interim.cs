using System.Buffers.Binary;
using System.Security.Cryptography;
using Confide.Randomness;

namespace Confide.Protocol.SecureAggregation.Internal;

// INTERIM: stand-ins for the primitives being built in Confide.SecureAggregation, replaced as those land.
internal static partial class SecAggCrypto
{
    private const ulong P = (1UL << 61) - 1;
    private const int ChunkBytes = 7;
    private const int Chunks = (SeedLength + ChunkBytes - 1) / ChunkBytes;

    /// <summary>Bytes of one Shamir share of a 32-byte secret.</summary>
    public const int ShareLength = Chunks * 8;

    public static byte[][] Split(ReadOnlySpan<byte> secret, IReadOnlyList<int> holders, int threshold, IRandomSource random)
    {
        var shares = new byte[holders.Count][];
        for (int h = 0; h < holders.Count; h++)
        {
            shares[h] = new byte[ShareLength];
        }

        Span<ulong> coefficients = stackalloc ulong[threshold];
        Span<byte> chunk = stackalloc byte[8];
        for (int c = 0; c < Chunks; c++)
        {
            chunk.Clear();
            int start = c * ChunkBytes;
            secret.Slice(start, Math.Min(ChunkBytes, SeedLength - start)).CopyTo(chunk);
            coefficients[0] = BinaryPrimitives.ReadUInt64LittleEndian(chunk);
            for (int i = 1; i < threshold; i++)
            {
                coefficients[i] = random.NextUInt64Below(P);
            }

            for (int h = 0; h < holders.Count; h++)
            {
                ulong x = (ulong)holders[h] + 1;
                ulong y = 0;
                for (int i = threshold - 1; i >= 0; i--)
                {
                    y = Add(Mul(y, x), coefficients[i]);
                }

                BinaryPrimitives.WriteUInt64LittleEndian(shares[h].AsSpan(c * 8), y);
            }
        }

        coefficients.Clear();
        CryptographicOperations.ZeroMemory(chunk);
        return shares;
    }

    /// <summary>Reconstructs from the first t shares; one more share, when present, is checked against them.</summary>
    public static byte[] Combine(IReadOnlyList<int> holders, IReadOnlyList<byte[]> shares, int threshold)
    {
        if (holders.Count < threshold)
        {
            throw new CryptographicException($"{holders.Count} shares cannot reconstruct a secret with threshold {threshold}.");
        }

        int used = Math.Min(holders.Count, threshold + 1);
        var xs = new ulong[used];
        for (int i = 0; i < used; i++)
        {
            xs[i] = (ulong)holders[i] + 1;
        }

        ulong[] lagrange = LagrangeAtZero(xs.AsSpan(0, threshold));
        byte[] secret = new byte[Chunks * ChunkBytes];
        Span<byte> chunkBytes = stackalloc byte[8];
        for (int c = 0; c < Chunks; c++)
        {
            ulong s = 0;
            for (int i = 0; i < threshold; i++)
            {
                s = Add(s, Mul(lagrange[i], BinaryPrimitives.ReadUInt64LittleEndian(shares[i].AsSpan(c * 8))));
            }

            if (used > threshold)
            {
                // Evaluate the interpolating polynomial at the extra point and compare.
                ulong x = xs[threshold];
                ulong expected = 0;
                for (int i = 0; i < threshold; i++)
                {
                    ulong basis = 1;
                    for (int j = 0; j < threshold; j++)
                    {
                        if (j != i)
                        {
                            basis = Mul(basis, Mul(Sub(x, xs[j]), Inverse(Sub(xs[i], xs[j]))));
                        }
                    }

                    expected = Add(expected, Mul(basis, BinaryPrimitives.ReadUInt64LittleEndian(shares[i].AsSpan(c * 8))));
                }

                if (expected != BinaryPrimitives.ReadUInt64LittleEndian(shares[threshold].AsSpan(c * 8)))
                {
                    throw new CryptographicException("The shares are inconsistent: they do not lie on one polynomial of degree t − 1.");
                }
            }

            if (s >= 1UL << (8 * ChunkBytes))
            {
                throw new CryptographicException("The reconstructed chunk is out of range: the shares are inconsistent.");
            }

            BinaryPrimitives.WriteUInt64LittleEndian(chunkBytes, s);
            chunkBytes[..ChunkBytes].CopyTo(secret.AsSpan(c * ChunkBytes));
        }

        byte[] result = secret.AsSpan(0, SeedLength).ToArray();
        CryptographicOperations.ZeroMemory(secret);
        return result;
    }

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

    private static ulong[] LagrangeAtZero(ReadOnlySpan<ulong> xs)
    {
        var result = new ulong[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            ulong num = 1;
            ulong den = 1;
            for (int j = 0; j < xs.Length; j++)
            {
                if (j != i)
                {
                    num = Mul(num, xs[j]);
                    den = Mul(den, Sub(xs[j], xs[i]));
                }
            }

            result[i] = Mul(num, Inverse(den));
        }

        return result;
    }

    private static ulong Add(ulong a, ulong b)
    {
        ulong s = a + b;
        return s >= P ? s - P : s;
    }

    private static ulong Sub(ulong a, ulong b) => a >= b ? a - b : a + P - b;

    private static ulong Mul(ulong a, ulong b)
    {
        UInt128 product = (UInt128)a * b;
        ulong lo = (ulong)(product & P);
        ulong hi = (ulong)(product >> 61);
        return Add(lo, hi);
    }

    private static ulong Inverse(ulong a)
    {
        if (a == 0)
        {
            throw new CryptographicException("Duplicate share holders: two shares have the same x-coordinate.");
        }

        ulong result = 1;
        ulong e = P - 2;
        while (e > 0)
        {
            if ((e & 1) == 1)
            {
                result = Mul(result, a);
            }

            a = Mul(a, a);
            e >>= 1;
        }

        return result;
    }
}
