using Confide.Protocol.SecureAggregation;
using Confide.Randomness;
using Confide.SecureAggregation;

namespace Confide.Protocol.Tests.SecureAggregation;

/// <summary>A hand-driven round: the test plays the server's network and can drop, tamper with or reroute any message.</summary>
internal sealed class SecAggHarness : IDisposable
{
    public SecAggHarness(SecAggOptions options, ulong seed, string sessionId = "test-session", long round = 7)
    {
        Options = options;
        var random = new SeededRandomSource(seed);
        Identities = new IdentityKeyPair[options.ClientCount];
        for (int u = 0; u < options.ClientCount; u++)
        {
            Identities[u] = IdentityKeyPair.Generate(random);
        }

        byte[] graphSeed = new byte[32];
        random.NextBytes(graphSeed);
        Session = new SecAggSession(sessionId, round, options, Identities.Select(k => k.PublicKey).ToArray(), graphSeed);
        Inputs = new ulong[options.ClientCount][];
        Clients = new SecAggClient[options.ClientCount];
        for (int u = 0; u < options.ClientCount; u++)
        {
            Inputs[u] = new ulong[options.Dimension];
            for (int i = 0; i < options.Dimension; i++)
            {
                Inputs[u][i] = random.NextUInt64() & options.ModulusMask;
            }

            Clients[u] = new SecAggClient(Session, u, Identities[u], Inputs[u], random.Fork((ulong)u + 100));
        }

        Server = new SecAggServer(Session, random.Fork(999));
    }

    public SecAggOptions Options { get; }

    public IdentityKeyPair[] Identities { get; }

    public SecAggSession Session { get; }

    public ulong[][] Inputs { get; }

    public SecAggClient[] Clients { get; }

    public SecAggServer Server { get; }

    /// <summary>Every client in <paramref name="senders"/> answers its server message (or advertises); the server receives and closes.</summary>
    public Dictionary<int, SecAggServerMessage> Step(IReadOnlyDictionary<int, SecAggServerMessage>? inbox, Func<int, bool>? sends = null)
    {
        for (int u = 0; u < Options.ClientCount; u++)
        {
            if (sends is not null && !sends(u))
            {
                continue;
            }

            SecAggClientMessage? reply = inbox is null ? Clients[u].AdvertiseKeys()
                : inbox.TryGetValue(u, out SecAggServerMessage? m) ? Clients[u].Handle(m) : null;
            if (reply is not null)
            {
                Server.Receive(reply);
            }
        }

        return Server.CloseStage().ToDictionary(m => m.Recipient);
    }

    /// <summary>Runs honest stages until the server has produced the messages for <paramref name="stage"/>.</summary>
    public Dictionary<int, SecAggServerMessage> RunUntil(SecAggStage stage)
    {
        Dictionary<int, SecAggServerMessage>? inbox = null;
        for (var s = SecAggStage.AdvertiseKeys; s < stage; s++)
        {
            inbox = Step(inbox);
        }

        return inbox!;
    }

    public void Dispose()
    {
        foreach (SecAggClient c in Clients)
        {
            c.Dispose();
        }

        foreach (IdentityKeyPair k in Identities)
        {
            k.Dispose();
        }
    }
}
