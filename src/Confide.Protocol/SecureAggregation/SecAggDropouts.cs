using Confide.Randomness;

namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// Which clients vanish in a simulated round, and when: a client mapped to stage S completes every stage before S and
/// never sends its message for S (nor anything after).
/// </summary>
public sealed record SecAggDropouts
{
    public SecAggDropouts(IReadOnlyDictionary<int, SecAggStage> dropBefore)
    {
        ArgumentNullException.ThrowIfNull(dropBefore);
        foreach ((int client, SecAggStage stage) in dropBefore)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(client);
            if (stage < SecAggStage.AdvertiseKeys || stage > SecAggStage.Unmasking)
            {
                throw new ArgumentOutOfRangeException(nameof(dropBefore), stage, $"Client {client} must drop before one of the five protocol stages.");
            }
        }

        DropBefore = new Dictionary<int, SecAggStage>(dropBefore);
    }

    /// <summary>Client id → the first stage whose message it does not send.</summary>
    public IReadOnlyDictionary<int, SecAggStage> DropBefore { get; }

    /// <summary>Nobody drops.</summary>
    public static SecAggDropouts None { get; } = new(new Dictionary<int, SecAggStage>());

    /// <summary>The given clients all drop before <paramref name="stage"/>.</summary>
    public static SecAggDropouts At(SecAggStage stage, params IEnumerable<int> clients) =>
        new(clients.ToDictionary(c => c, _ => stage));

    /// <summary>Each client drops with probability <paramref name="probability"/>, before a stage drawn uniformly.</summary>
    public static SecAggDropouts Random(int clientCount, double probability, IRandomSource random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(clientCount);
        if (!(probability >= 0 && probability <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "The dropout probability must be in [0, 1].");
        }

        ArgumentNullException.ThrowIfNull(random);
        var map = new Dictionary<int, SecAggStage>();
        for (int u = 0; u < clientCount; u++)
        {
            if (random.NextDouble() < probability)
            {
                map[u] = (SecAggStage)random.NextInt32(5);
            }
        }

        return new SecAggDropouts(map);
    }

    /// <summary>Exactly ⌊p·n⌋ clients, chosen uniformly, drop before <paramref name="stage"/> (the benchmark's pattern).</summary>
    public static SecAggDropouts Fraction(int clientCount, double probability, SecAggStage stage, IRandomSource random)
    {
        if (!(probability >= 0 && probability <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "The dropout fraction must be in [0, 1].");
        }

        ArgumentNullException.ThrowIfNull(random);
        int[] order = Enumerable.Range(0, clientCount).ToArray();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return At(stage, order.Take((int)Math.Floor(probability * clientCount)));
    }

    /// <summary>True when <paramref name="client"/> sends its message for <paramref name="stage"/>.</summary>
    public bool Sends(int client, SecAggStage stage) => !DropBefore.TryGetValue(client, out SecAggStage s) || stage < s;
}
