using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Wire.V1;
using Google.Protobuf;

namespace Confide.Server.Tests;

/// <summary>SecAgg setups as a server would send them, for the client-side validation tests.</summary>
internal static class SecAggSetups
{
    /// <summary>
    /// A consistent setup for three clients "a", "b" and "c" (identity keys drawn from <paramref name="seed"/>), threshold
    /// and neighbourhood 2, Z_2^32, clip range 1, sample-count weights up to 100; tests change the fields they probe.
    /// </summary>
    public static SecAggSetup ThreeClients(ulong seed, int dimension)
    {
        var random = new SeededRandomSource(seed);
        var setup = new SecAggSetup
        {
            SessionId = "round-3-0123456789abcdef",
            Threshold = 2,
            NeighbourCount = 2,
            ModulusBits = 32,
            SignatureQuorum = 2,
            GraphSeed = ByteString.CopyFrom(new byte[32]),
            Dimension = dimension,
            ClipRange = 1,
            Scale = 1 << 20,
            MaxWeight = 100,
            MaxClients = 3,
            PollIntervalMs = 20,
        };
        foreach (string id in new[] { "a", "b", "c" })
        {
            using var key = IdentityKeyPair.Generate(random);
            setup.Roster.Add(new SecAggRosterEntry { ClientId = id, IdentityPublicKey = ByteString.CopyFrom(key.PublicKey.ToBytes()) });
        }

        return setup;
    }
}
