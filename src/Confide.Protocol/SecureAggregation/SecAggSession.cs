using Confide.Protocol.SecureAggregation.Internal;
using Confide.SecureAggregation;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Everything public about one round that server and clients agree on beforehand: the session id and round number (bound
/// into every signature and every share ciphertext), the options, each client's Ed25519 identity public key (the PKI that
/// Bonawitz et al. 2017 assume for the malicious-server setting), and the public seed of the SecAgg+ neighbour graph.
/// </summary>
/// <remarks>
/// The graph seed is a session parameter fixed before AdvertiseKeys and must come from a source the server cannot steer
/// (a public beacon, the operator, or a commit-and-reveal among clients outside the round). It is deliberately not derived
/// from the round's advertised keys (<see cref="NeighbourGraph.SeedFromContributions"/>): the server chooses which
/// clients count as having advertised and could search over those subsets, and SecAgg+ clients, who see only their
/// neighbours' keys, could not check such a seed without O(n) work (see docs/secure-aggregation.md, "Where the graph
/// seed comes from").
/// </remarks>
public sealed class SecAggSession
{
    private readonly int[][] _neighbours;
    private readonly bool[][]? _isNeighbour;

    public SecAggSession(string sessionId, long round, SecAggOptions options, IReadOnlyList<IdentityPublicKey> identityKeys, ReadOnlySpan<byte> graphSeed)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(identityKeys);
        if (identityKeys.Count != options.ClientCount)
        {
            throw new ArgumentException($"The roster has {identityKeys.Count} identity keys but the options name {options.ClientCount} clients.", nameof(identityKeys));
        }

        for (int i = 0; i < identityKeys.Count; i++)
        {
            if (identityKeys[i] is null)
            {
                throw new ArgumentException($"Identity key {i} must be an Ed25519 public key.", nameof(identityKeys));
            }
        }

        if (graphSeed.Length != SecAggCrypto.SeedLength)
        {
            throw new ArgumentException($"The graph seed must be {SecAggCrypto.SeedLength} bytes, got {graphSeed.Length}.", nameof(graphSeed));
        }

        SessionId = sessionId;
        Round = round;
        Options = options;
        IdentityKeys = identityKeys.ToArray();
        GraphSeed = graphSeed.ToArray();
        _neighbours = SecAggCrypto.NeighbourGraph(options.ClientCount, options.NeighbourCount, graphSeed);
        if (!options.IsFullGraph)
        {
            _isNeighbour = new bool[options.ClientCount][];
            for (int u = 0; u < options.ClientCount; u++)
            {
                _isNeighbour[u] = new bool[options.ClientCount];
                foreach (int v in _neighbours[u])
                {
                    _isNeighbour[u][v] = true;
                }
            }
        }

        Binding = SecAggBinding.Create(sessionId, round);
    }

    public string SessionId { get; }

    public long Round { get; }

    public SecAggOptions Options { get; }

    /// <summary>Client id → Ed25519 identity public key.</summary>
    public IReadOnlyList<IdentityPublicKey> IdentityKeys { get; }

    /// <summary>The public seed the neighbour graph is drawn from.</summary>
    public IReadOnlyList<byte> GraphSeed { get; }

    internal SecAggBinding Binding { get; }

    /// <summary>The ascending neighbour ids of client <paramref name="client"/> (never itself).</summary>
    public IReadOnlyList<int> Neighbours(int client)
    {
        CheckClient(client);
        return _neighbours[client];
    }

    /// <summary>True when <paramref name="u"/> and <paramref name="v"/> are neighbours (the graph is undirected).</summary>
    public bool AreNeighbours(int u, int v)
    {
        CheckClient(u);
        CheckClient(v);
        return u != v && (_isNeighbour is null || _isNeighbour[u][v]);
    }

    internal int[] NeighbourArray(int client) => _neighbours[client];

    internal bool IsClient(int id) => (uint)id < (uint)Options.ClientCount;

    private void CheckClient(int client)
    {
        if (!IsClient(client))
        {
            throw new ArgumentOutOfRangeException(nameof(client), client, $"Client ids run from 0 to {Options.ClientCount - 1}.");
        }
    }
}
