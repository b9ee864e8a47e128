using System.Security.Cryptography;
using System.Text;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;

namespace Confide.Tests.SecureAggregation;

public sealed class KeysAndShareEncryptionTests
{
    private static readonly SecAggContext Context = new(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), round: 7);

    [Fact]
    public void Ed25519KeyFromTheRfc8032SeedHasTheRfcPublicKey()
    {
        // RFC 8032, section 7.1, TEST 1.
        var seed = Convert.FromHexString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        using var identity = IdentityKeyPair.Generate(new FixedBytes(seed));
        Assert.Equal("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", Convert.ToHexString(identity.PublicKey.ToBytes()).ToLowerInvariant());
    }

    [Fact]
    public void SignaturesVerifyOnlyForTheSameKeyPurposeAndMessage()
    {
        var rng = new SeededRandomSource(1);
        using var alice = IdentityKeyPair.Generate(rng);
        using var mallory = IdentityKeyPair.Generate(rng);
        byte[] message = Encoding.UTF8.GetBytes("c_pk || s_pk");
        byte[] signature = alice.Sign("advertise-keys", message);
        Assert.Equal(64, signature.Length);

        var published = IdentityPublicKey.FromBytes(alice.PublicKey.ToBytes());
        Assert.Equal(alice.PublicKey, published);
        Assert.True(published.Verify("advertise-keys", message, signature));
        published.VerifyOrThrow("advertise-keys", message, signature);

        Assert.False(published.Verify("consistency-check", message, signature));
        Assert.False(published.Verify("advertise-keys", Encoding.UTF8.GetBytes("c_pk || s_pX"), signature));
        Assert.False(mallory.PublicKey.Verify("advertise-keys", message, signature));
        Assert.False(published.Verify("advertise-keys", message, signature[..63]));
        var flipped = (byte[])signature.Clone();
        flipped[10] ^= 1;
        var ex = Assert.Throws<SignatureVerificationException>(() => published.VerifyOrThrow("advertise-keys", message, flipped));
        Assert.Contains("advertise-keys", ex.Message, StringComparison.Ordinal);
        Assert.Throws<SignatureVerificationException>(() => published.VerifyOrThrow("advertise-keys", message, []));
    }

    [Fact]
    public void ThePrivateSeedRoundTripsOnlyWhenExportWasAllowed()
    {
        // RFC 8032, section 7.1, TEST 1: the exported seed is the RFC seed, and importing it gives the RFC public key.
        var rfcSeed = Convert.FromHexString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        using var original = IdentityKeyPair.Generate(new FixedBytes(rfcSeed), allowSeedExport: true);
        Assert.True(original.CanExportPrivateSeed);
        var seed = new byte[IdentityKeyPair.PrivateSeedSize];
        original.ExportPrivateSeed(seed);
        Assert.Equal(rfcSeed, seed);

        using var restored = IdentityKeyPair.ImportPrivateSeed(seed);
        CryptographicOperations.ZeroMemory(seed);
        Assert.Equal(original.PublicKey, restored.PublicKey);
        Assert.Equal("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", Convert.ToHexString(restored.PublicKey.ToBytes()).ToLowerInvariant());
        byte[] message = Encoding.UTF8.GetBytes("survivors");
        Assert.True(original.PublicKey.Verify("consistency-check", message, restored.Sign("consistency-check", message)));

        // Keys are not exportable unless asked for, and the imported key was not.
        Assert.False(restored.CanExportPrivateSeed);
        var ex = Assert.Throws<InvalidOperationException>(() => restored.ExportPrivateSeed(new byte[32]));
        Assert.Contains("allowSeedExport", ex.Message, StringComparison.Ordinal);
        using var plain = IdentityKeyPair.Generate(new SeededRandomSource(3));
        Assert.Throws<InvalidOperationException>(() => plain.ExportPrivateSeed(new byte[32]));
        Assert.Throws<ArgumentException>(() => original.ExportPrivateSeed(new byte[31]));

        string hexSeed = Convert.ToHexString(rfcSeed);
        Assert.DoesNotContain(hexSeed[..8], original.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void AWrongLengthSeedIsRefusedWithAClearMessage(int length)
    {
        var ex = Assert.Throws<ArgumentException>(() => IdentityKeyPair.ImportPrivateSeed(new byte[length]));
        Assert.Equal("seed", ex.ParamName);
        Assert.Contains($"32 bytes; {length} bytes were given", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelledSignaturesAreSeparatedFromPurposeSignaturesAndFromOtherLabels()
    {
        using var key = IdentityKeyPair.Generate(new SeededRandomSource(4));
        byte[] message = Encoding.UTF8.GetBytes("payload");
        byte[] labelled = key.SignLabelled("confide.v1/request", message);
        Assert.True(key.PublicKey.VerifyLabelled("confide.v1/request", message, labelled));
        Assert.False(key.PublicKey.VerifyLabelled("confide.v1/enroll", message, labelled));
        Assert.False(key.PublicKey.Verify("confide.v1/request", message, labelled));
        Assert.False(key.PublicKey.VerifyLabelled("confide.v1/request", message, key.Sign("confide.v1/request", message)));

        // The label is a line of printable ASCII, so "a" + "\nb…" cannot pass for another label's message.
        Assert.Throws<ArgumentException>(() => key.SignLabelled("a\nb", message));
        Assert.Throws<ArgumentException>(() => key.SignLabelled("has space", message));
        Assert.Throws<ArgumentException>(() => key.SignLabelled("", message));
        Assert.Throws<ArgumentException>(() => key.SignLabelled(new string('x', 256), message));
    }

    [Fact]
    public void X25519MatchesRfc7748AndThePairwiseSeedIsTheDocumentedHkdf()
    {
        // RFC 7748, section 6.1.
        using var alice = AgreementKeyPair.Import(Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        using var bob = AgreementKeyPair.Import(Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Convert.ToHexString(alice.PublicKey.ToBytes()).ToLowerInvariant());
        Assert.Equal("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", Convert.ToHexString(bob.PublicKey.ToBytes()).ToLowerInvariant());
        byte[] shared = Convert.FromHexString("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

        // Alice is id 9, Bob id 4: the info orders the pair (4, 9) and their keys accordingly.
        var expected = new byte[32];
        HKDF.DeriveKey(
            HashAlgorithmName.SHA256, shared, expected, Context.SessionId,
            Binding.Encode("Confide/SecAgg/pairwise-mask-seed/v1", Context, [4, 9], bob.PublicKey.ToBytes(), alice.PublicKey.ToBytes()));
        var fromAlice = new byte[32];
        var fromBob = new byte[32];
        PairwiseMaskSeed.Derive(alice, 9, bob.PublicKey, 4, Context, fromAlice);
        PairwiseMaskSeed.Derive(bob, 4, alice.PublicKey, 9, Context, fromBob);
        Assert.Equal(expected, fromAlice);
        Assert.Equal(expected, fromBob);
    }

    [Fact]
    public void PairwiseSeedsAreSymmetricAndBoundToSessionRoundAndPair()
    {
        var rng = new SeededRandomSource(2);
        using var u = AgreementKeyPair.Generate(rng);
        using var v = AgreementKeyPair.Generate(rng);
        using var w = AgreementKeyPair.Generate(rng);
        byte[] Seed(AgreementKeyPair own, int ownId, AgreementPublicKey peer, int peerId, SecAggContext ctx)
        {
            var s = new byte[32];
            PairwiseMaskSeed.Derive(own, ownId, peer, peerId, ctx, s);
            return s;
        }

        var suv = Seed(u, 1, v.PublicKey, 2, Context);
        Assert.Equal(suv, Seed(v, 2, u.PublicKey, 1, Context));
        Assert.NotEqual(suv, Seed(u, 1, v.PublicKey, 2, Context.WithRound(8)));
        Assert.NotEqual(suv, Seed(u, 1, v.PublicKey, 2, new SecAggContext(new byte[16], 7)));
        Assert.NotEqual(suv, Seed(u, 1, v.PublicKey, 3, Context));
        Assert.NotEqual(suv, Seed(u, 1, w.PublicKey, 2, Context));

        // The server, holding u's mask key rebuilt from its exported bytes, derives the same seed.
        var exported = new byte[32];
        u.ExportPrivateKey(exported);
        using var rebuilt = AgreementKeyPair.Import(exported);
        Assert.Equal(u.PublicKey, rebuilt.PublicKey);
        Assert.Equal(suv, Seed(rebuilt, 1, v.PublicKey, 2, Context));

        Assert.Equal(1, PairwiseMaskSeed.MaskSign(1, 2));
        Assert.Equal(-1, PairwiseMaskSeed.MaskSign(2, 1));
        Assert.Throws<ArgumentException>(() => Seed(u, 1, v.PublicKey, 1, Context));
    }

    [Fact]
    public void PairwiseMasksAppliedWithTheirSignsCancel()
    {
        var rng = new SeededRandomSource(3);
        using var u = AgreementKeyPair.Generate(rng);
        using var v = AgreementKeyPair.Generate(rng);
        var su = new byte[32];
        var sv = new byte[32];
        PairwiseMaskSeed.Derive(u, 10, v.PublicKey, 3, Context, su);
        PairwiseMaskSeed.Derive(v, 3, u.PublicKey, 10, Context, sv);
        var yu = new ulong[1000];
        var yv = new ulong[1000];
        PairwiseMaskSeed.Apply(su, 10, 3, yu, 32);
        PairwiseMaskSeed.Apply(sv, 3, 10, yv, 32);
        Assert.NotEqual(new ulong[1000], yu);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(0UL, (yu[i] + yv[i]) & 0xFFFF_FFFFUL);
        }
    }

    [Fact]
    public void SharesDecryptOnlyForTheIntendedReceiverSenderSessionAndRound()
    {
        var rng = new SeededRandomSource(4);
        using var sender = AgreementKeyPair.Generate(rng);
        using var receiver = AgreementKeyPair.Generate(rng);
        using var other = AgreementKeyPair.Generate(rng);
        byte[] plaintext = Encoding.UTF8.GetBytes("share of b_u and of s_u^SK");
        byte[] sealedShare = ShareEncryption.Encrypt(sender, 1, receiver.PublicKey, 2, Context, plaintext, rng);
        Assert.Equal(plaintext.Length + ShareEncryption.Overhead, sealedShare.Length);

        Assert.Equal(plaintext, ShareEncryption.Decrypt(receiver, 2, sender.PublicKey, 1, Context, sealedShare));

        // Another client (id 3) trying to open it, or the receiver under a wrong id, sender, session or round.
        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(other, 3, sender.PublicKey, 1, Context, sealedShare));
        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 3, sender.PublicKey, 1, Context, sealedShare));
        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 2, sender.PublicKey, 5, Context, sealedShare));
        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 2, other.PublicKey, 1, Context, sealedShare));
        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 2, sender.PublicKey, 1, Context.WithRound(8), sealedShare));
        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 2, sender.PublicKey, 1, new SecAggContext(new byte[32], 7), sealedShare));

        // Any single flipped bit, in the nonce, the ciphertext or the tag.
        foreach (int position in new[] { 0, 11, 12, 20, sealedShare.Length - 1 })
        {
            var tampered = (byte[])sealedShare.Clone();
            tampered[position] ^= 0x01;
            var ex = Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 2, sender.PublicKey, 1, Context, tampered));
            Assert.Contains("from 1 to 2", ex.Message, StringComparison.Ordinal);
        }

        Assert.Throws<ShareDecryptionException>(() => ShareEncryption.Decrypt(receiver, 2, sender.PublicKey, 1, Context, sealedShare[..20]));
    }

    // The X25519 encodings of small order: 0 and 1, the two points of order 8, and p − 1, p, p + 1 (p = 2^255 − 19),
    // each also with the top bit set, which X25519 ignores (Bernstein's list of points to reject; see RFC 7748 §6.1).
    public static TheoryData<string> SmallOrderPoints()
    {
        string[] points =
        [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        var data = new TheoryData<string>();
        foreach (string point in points)
        {
            data.Add(point);
            data.Add(point[..62] + (Convert.ToByte(point[62..], 16) | 0x80).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SmallOrderPoints))]
    public void EveryEncodingOfSmallOrderIsDetectedAndItsAgreementsFail(string hex)
    {
        byte[] bytes = Convert.FromHexString(hex);
        Assert.True(AgreementPublicKey.IsSmallOrder(bytes));
        using var own = AgreementKeyPair.Generate(new SeededRandomSource(5));
        var key = AgreementPublicKey.FromBytes(bytes);
        Assert.ThrowsAny<CryptographicException>(() => PairwiseMaskSeed.Derive(own, 0, key, 1, Context, new byte[32]));
        Assert.ThrowsAny<CryptographicException>(() => ShareEncryption.Encrypt(own, 0, key, 1, Context, [1], new SeededRandomSource(1)));
    }

    [Fact]
    public void KeysOfLargeOrderAreNotSmallOrderIncludingTwistPoints()
    {
        // The RFC 7748 keys, the base point 9, and 2 (a point of large order on the twist).
        foreach (string hex in new[]
        {
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
            "0900000000000000000000000000000000000000000000000000000000000000",
            "0200000000000000000000000000000000000000000000000000000000000000",
        })
        {
            Assert.False(AgreementPublicKey.IsSmallOrder(Convert.FromHexString(hex)));
        }

        var random = new SeededRandomSource(5);
        for (int i = 0; i < 64; i++)
        {
            using var pair = AgreementKeyPair.Generate(random);
            Assert.False(AgreementPublicKey.IsSmallOrder(pair.PublicKey.ToBytes()));
        }

        Assert.Throws<ArgumentException>(() => AgreementPublicKey.IsSmallOrder(new byte[31]));
    }

    [Fact]
    public void BadArgumentsAreRefusedAndSecretsNeverPrinted()
    {
        Assert.Throws<ArgumentException>(() => new SecAggContext(new byte[8], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecAggContext(new byte[16], -1));
        Assert.Throws<ArgumentException>(() => AgreementKeyPair.Import(new byte[31]));
        Assert.Throws<ArgumentException>(() => AgreementPublicKey.FromBytes(new byte[33]));
        Assert.Throws<ArgumentException>(() => IdentityPublicKey.FromBytes(new byte[31]));

        var seed = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();
        using var key = AgreementKeyPair.Import(seed);
        string hexSeed = Convert.ToHexString(seed);
        Assert.DoesNotContain(hexSeed[..8], key.ToString(), StringComparison.OrdinalIgnoreCase);
        using var identity = IdentityKeyPair.Generate(new FixedBytes(seed));
        Assert.DoesNotContain(hexSeed[..8], identity.ToString(), StringComparison.OrdinalIgnoreCase);
        identity.Dispose();
        Assert.Throws<ObjectDisposedException>(() => identity.Sign("x", [1]));
    }

    /// <summary>Returns the given bytes, for known-answer tests of key generation.</summary>
    private sealed class FixedBytes(byte[] bytes) : IRandomSource
    {
        public void NextBytes(Span<byte> destination) => bytes.AsSpan(0, destination.Length).CopyTo(destination);

        public ulong NextUInt64() => throw new NotSupportedException();

        public IRandomSource Fork(ulong stream) => throw new NotSupportedException();
    }
}
