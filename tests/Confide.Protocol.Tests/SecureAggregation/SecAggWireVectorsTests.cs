using System.Buffers.Binary;
using System.Text.Json;
using Confide.Protocol.SecureAggregation.Internal;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.Testing;

namespace Confide.Protocol.Tests.SecureAggregation;

/// <summary>
/// docs/secagg-vectors.json: the known-answer vectors of the SecAgg wire encoding published for clients in other
/// languages. clients/python/secagg_vectors.py checks an independent Python implementation against the same file; this
/// keeps the .NET side from drifting away from what was published.
/// </summary>
public sealed class SecAggWireVectorsTests
{
    private static readonly byte[] Seed = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
    private const string SessionId = "round-3-00112233445566778899aabbccddeeff";
    private const long Round = 3;

    private static readonly JsonElement Vectors = LoadVectors();

    private static JsonElement LoadVectors()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(RepositoryFiles.Path("docs", "secagg-vectors.json")));
        return document.RootElement.GetProperty("vectors").Clone();
    }

    private static string Hex(string name) => Vectors.GetProperty(name).GetString()!;

    private static ulong[] Words(string name) =>
        Vectors.GetProperty(name).EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? ulong.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : e.GetUInt64()).ToArray();

    [Fact]
    public void The_mask_prg_matches_the_published_words()
    {
        var k32 = new uint[8];
        MaskPrg.AddMask(Seed, k32, 32);
        Assert.Equal(Words("mask_k32"), k32.Select(w => (ulong)w));
        var k13 = new uint[8];
        MaskPrg.AddMask(Seed, k13, 13);
        Assert.Equal(Words("mask_k13"), k13.Select(w => (ulong)w));
        var k40 = new ulong[8];
        MaskPrg.AddMask(Seed, k40, 40);
        Assert.Equal(Words("mask_k40"), k40);
        var subtracted = new uint[4];
        MaskPrg.SubtractMask(Seed, subtracted, 32);
        Assert.Equal(Words("mask_k32_subtracted"), subtracted.Select(w => (ulong)w));
    }

    [Fact]
    public void The_neighbour_graphs_match_the_published_ones()
    {
        var g10 = NeighbourGraph.Harary(10, 4, Seed);
        Assert.Equal(Vectors.GetProperty("graph_n10_k4").EnumerateArray().Select(a => a.EnumerateArray().Select(e => e.GetInt32()).ToArray()), Enumerable.Range(0, 10).Select(u => g10.Neighbours(u).ToArray()));
        var g8 = NeighbourGraph.Harary(8, 3, Seed);
        Assert.Equal(Vectors.GetProperty("graph_n8_k3").EnumerateArray().Select(a => a.EnumerateArray().Select(e => e.GetInt32()).ToArray()), Enumerable.Range(0, 8).Select(u => g8.Neighbours(u).ToArray()));
        Assert.Equal(Words("graph_n500_k18_client0").Select(w => (int)w), NeighbourGraph.Harary(500, 18, Seed).Neighbours(0).ToArray());
    }

    [Fact]
    public void Keys_shares_and_signed_payloads_match_the_published_bytes()
    {
        var context = SecAggCrypto.Context(SessionId, Round);
        var binding = SecAggBinding.Create(SessionId, Round);
        using var alice = AgreementKeyPair.Import(Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        using var bob = AgreementKeyPair.Import(Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));

        var seed94 = new byte[32];
        PairwiseMaskSeed.Derive(alice, 9, bob.PublicKey, 4, context, seed94);
        Assert.Equal(Hex("pairwise_seed_9_4"), Convert.ToHexStringLower(seed94));
        var seed49 = new byte[32];
        PairwiseMaskSeed.Derive(bob, 4, alice.PublicKey, 9, context, seed49);
        Assert.Equal(Hex("pairwise_seed_4_9"), Convert.ToHexStringLower(seed49));

        byte[] sealedShare = ShareEncryption.Encrypt(alice, 9, bob.PublicKey, 4, context, "shares of b and s^SK"u8, new CountingRandom());
        Assert.Equal(Hex("share_ciphertext_9_to_4"), Convert.ToHexStringLower(sealedShare));
        Assert.Equal(Hex("share_bundle"), Convert.ToHexStringLower(SecAggShareBundle.Encode(9, 4, [1, 2, 3], [4, 5])));

        using var identity = IdentityKeyPair.ImportPrivateSeed(Convert.FromHexString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        byte[] advertise = binding.AdvertisePayload(2, alice.PublicKey.ToBytes(), bob.PublicKey.ToBytes());
        Assert.Equal(Hex("advertise_payload"), Convert.ToHexStringLower(advertise));
        Assert.Equal(Hex("advertise_signature"), Convert.ToHexStringLower(identity.Sign(SecAggBinding.AdvertisePurpose, advertise)));
        byte[] survivors = binding.SurvivorPayload([0, 2, 5]);
        Assert.Equal(Hex("survivor_payload"), Convert.ToHexStringLower(survivors));
        Assert.Equal(Hex("survivor_signature"), Convert.ToHexStringLower(identity.Sign(SecAggBinding.SurvivorsPurpose, survivors)));
    }

    [Fact]
    public void Shamir_shares_and_the_quantizer_match_the_published_values_for_fixed_draws()
    {
        var shares = new ShamirSecretSharing(3, new CountingRandom()).Split(Seed, [1, 2, 5, 10]);
        Assert.Equal(Vectors.GetProperty("shamir_t3_shares").EnumerateArray().Select(e => e.GetString()), shares.Select(s => Convert.ToHexStringLower(s.ToBytes())));

        var quantizer = new StochasticQuantizer(new QuantizerOptions(1.0, 512, 1_000_000, 4, 32));
        ulong[] quantized = quantizer.Quantize([0.1f, -0.25f, 1.5f, -3f, 0.0031f, -0.0031f, 0.5f], 7, new CountingRandom());
        Assert.Equal(Words("quantized_w7"), quantized);
    }

    /// <summary>The vectors' source of "random" bytes: byte i is (7·i + 1) mod 256, from 0 for each vector.</summary>
    private sealed class CountingRandom : IRandomSource
    {
        private long _position;

        public void NextBytes(Span<byte> destination)
        {
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = unchecked((byte)((7 * _position++) + 1));
            }
        }

        public ulong NextUInt64()
        {
            Span<byte> bytes = stackalloc byte[8];
            NextBytes(bytes);
            return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        }

        public IRandomSource Fork(ulong stream) => this;
    }
}
