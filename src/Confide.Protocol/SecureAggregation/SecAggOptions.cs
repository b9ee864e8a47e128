using Confide.Protocol.Internal;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The public parameters of one secure-aggregation round: n clients, the SecAgg+ neighbourhood size k (Bell et al. 2020,
/// "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS), the Shamir threshold t, the vector length,
/// the modulus 2^bits, and the survivor-list signature quorum. Validated where built.
/// </summary>
/// <remarks>
/// <para><see cref="NeighbourCount"/> = n − 1 is the full graph of Bonawitz et al. 2017; smaller k uses the k-regular Harary
/// graph over a seeded ordering of the clients (odd k therefore needs even n).</para>
/// <para>The default <see cref="SignatureQuorum"/> is ⌊n/2⌋ + 1 of all n clients. Honest clients sign one survivor list
/// only, so two different lists cannot both collect a majority: this is what makes the consistency round bind a
/// malicious server. A smaller quorum is accepted (for simulations with heavy dropout) but loses that guarantee.</para>
/// </remarks>
public sealed record SecAggOptions
{
    /// <summary>The largest supported modulus exponent (Z_{2^62}, as in Google's production SecAgg).</summary>
    public const int MaxModulusBits = 62;

    /// <summary>The largest supported number of clients.</summary>
    public const int MaxClients = 1 << 16;

    public SecAggOptions(int clientCount, int threshold, int dimension, int? neighbourCount = null, int modulusBits = 32, int? signatureQuorum = null)
    {
        OptionChecks.InRange(clientCount, 2, MaxClients, nameof(clientCount), "The number of clients n");
        int k = neighbourCount ?? clientCount - 1;
        OptionChecks.InRange(k, 1, clientCount - 1, nameof(neighbourCount), "The neighbour count", "n − 1 =");
        if (k < clientCount - 1 && k % 2 == 1 && clientCount % 2 == 1)
        {
            throw new ArgumentOutOfRangeException(nameof(neighbourCount), k, $"A {k}-regular graph on {clientCount} clients does not exist (odd degree needs an even number of clients); use {k - 1} or {k + 1}.");
        }

        OptionChecks.InRange(threshold, 1, k, nameof(threshold), "The Shamir threshold", "the neighbour count");
        OptionChecks.AtLeast(dimension, 1, nameof(dimension), "The vector length D");
        OptionChecks.InRange(modulusBits, 1, MaxModulusBits, nameof(modulusBits), "The modulus exponent k");
        int quorum = signatureQuorum ?? (clientCount / 2) + 1;
        OptionChecks.InRange(quorum, 1, clientCount, nameof(signatureQuorum), "The signature quorum", "n =");

        ClientCount = clientCount;
        Threshold = threshold;
        Dimension = dimension;
        NeighbourCount = k;
        ModulusBits = modulusBits;
        SignatureQuorum = quorum;
    }

    /// <summary>n: the number of clients in the roster, with ids 0 … n − 1.</summary>
    public int ClientCount { get; }

    /// <summary>t: the number of shares that reconstruct a secret; also the minimum number of survivors.</summary>
    public int Threshold { get; }

    /// <summary>D: the number of elements of each input vector.</summary>
    public int Dimension { get; }

    /// <summary>k: the number of neighbours each client masks and shares with.</summary>
    public int NeighbourCount { get; }

    /// <summary>Inputs, masks and the sum live in Z_{2^ModulusBits}.</summary>
    public int ModulusBits { get; }

    /// <summary>How many valid survivor-list signatures a client demands before it reveals any share.</summary>
    public int SignatureQuorum { get; }

    /// <summary>True when every client is every other client's neighbour (Bonawitz et al. 2017 without SecAgg+).</summary>
    public bool IsFullGraph => NeighbourCount == ClientCount - 1;

    /// <summary>2^k − 1, the mask that reduces a value into Z_{2^k}.</summary>
    public ulong ModulusMask => ModulusBits == 64 ? ulong.MaxValue : (1UL << ModulusBits) - 1;
}
