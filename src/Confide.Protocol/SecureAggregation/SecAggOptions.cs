namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The public parameters of one secure-aggregation round: n clients, the SecAgg+ neighbourhood size k (Bell et al. 2020,
/// "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS), the Shamir threshold t, the vector length,
/// the modulus 2^bits, and the survivor-list signature quorum. Validated where built.
/// </summary>
/// <remarks>
/// <para><see cref="NeighbourCount"/> = n − 1 is the full graph of Bonawitz et al. 2017.</para>
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
        if (clientCount < 2 || clientCount > MaxClients)
        {
            throw new ArgumentOutOfRangeException(nameof(clientCount), clientCount, $"Secure aggregation needs between 2 and {MaxClients} clients.");
        }

        int k = neighbourCount ?? clientCount - 1;
        if (k < 1 || k > clientCount - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(neighbourCount), k, $"The neighbour count must be between 1 and n − 1 = {clientCount - 1}.");
        }

        if (threshold < 1 || threshold > k)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"The Shamir threshold must be between 1 and the neighbour count {k}.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if (modulusBits < 1 || modulusBits > MaxModulusBits)
        {
            throw new ArgumentOutOfRangeException(nameof(modulusBits), modulusBits, $"The modulus exponent k must be between 1 and {MaxModulusBits}.");
        }

        int quorum = signatureQuorum ?? (clientCount / 2) + 1;
        if (quorum < 1 || quorum > clientCount)
        {
            throw new ArgumentOutOfRangeException(nameof(signatureQuorum), quorum, $"The signature quorum must be between 1 and n = {clientCount}.");
        }

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
