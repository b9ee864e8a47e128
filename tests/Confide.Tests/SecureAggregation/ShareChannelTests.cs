using System.Security.Cryptography;
using System.Text;
using Confide.Randomness;
using Confide.SecureAggregation;
using Confide.SecureAggregation.Internal;

namespace Confide.Tests.SecureAggregation;

public sealed class ShareChannelTests
{
    private static readonly SecAggContext Context = new(Enumerable.Range(40, 32).Select(i => (byte)i).ToArray(), round: 3);

    [Fact]
    public void TheDirectAgreementMatchesRfc7748()
    {
        // RFC 7748, section 6.1: both sides reach the same shared secret.
        using var alice = AgreementKeyPair.Import(Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        using var bob = AgreementKeyPair.Import(Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        var ab = new byte[32];
        var ba = new byte[32];
        KeyAgreement.Agree(alice, bob.PublicKey, ab);
        KeyAgreement.Agree(bob, alice.PublicKey, ba);
        Assert.Equal("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", Convert.ToHexString(ab).ToLowerInvariant());
        Assert.Equal(ab, ba);
        Assert.Throws<ArgumentException>(() => KeyAgreement.Agree(alice, bob.PublicKey, new byte[31]));
    }

    [Fact]
    public void TheKeysAreTheDocumentedHkdfOfOneAgreementAndDifferPerDirection()
    {
        using var alice = AgreementKeyPair.Import(Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        using var bob = AgreementKeyPair.Import(Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        byte[] shared = Convert.FromHexString("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        byte[] Key(int sender, int receiver, AgreementPublicKey senderKey, AgreementPublicKey receiverKey)
        {
            var key = new byte[32];
            HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, key, Context.SessionId,
                Binding.Encode("Confide/SecAgg/share-key/v1", Context, [sender, receiver], senderKey.ToBytes(), receiverKey.ToBytes()));
            return key;
        }

        // Alice is 9 and Bob 4. Encrypt with an independently derived key and check the channel opens it, both ways.
        byte[] aliceToBob = Key(9, 4, alice.PublicKey, bob.PublicKey);
        byte[] bobToAlice = Key(4, 9, bob.PublicKey, alice.PublicKey);
        Assert.NotEqual(aliceToBob, bobToAlice);
        using var atAlice = ShareChannel.Establish(alice, 9, bob.PublicKey, 4, Context);
        using var atBob = ShareChannel.Establish(bob, 4, alice.PublicKey, 9, Context);
        byte[] message = Encoding.ASCII.GetBytes("shares of b and s^SK");
        Assert.Equal(message, atBob.Decrypt(Seal(aliceToBob, 9, 4, message)));
        Assert.Equal(message, atAlice.Decrypt(Seal(bobToAlice, 4, 9, message)));
        Assert.False(atAlice.TryDecrypt(Seal(aliceToBob, 9, 4, message), out _));
    }

    [Fact]
    public void ChannelsAndTheOneShotFunctionsInteroperateInBothDirections()
    {
        var rng = new SeededRandomSource(11);
        using var u = AgreementKeyPair.Generate(rng);
        using var v = AgreementKeyPair.Generate(rng);
        using var uv = ShareChannel.Establish(u, 1, v.PublicKey, 2, Context);
        using var vu = ShareChannel.Establish(v, 2, u.PublicKey, 1, Context);
        byte[] plaintext = Encoding.UTF8.GetBytes("a bundle of two Shamir shares");

        Assert.Equal(plaintext, vu.Decrypt(uv.Encrypt(plaintext, rng)));
        Assert.Equal(plaintext, uv.Decrypt(vu.Encrypt(plaintext, rng)));
        Assert.Equal(plaintext, ShareEncryption.Decrypt(v, 2, u.PublicKey, 1, Context, uv.Encrypt(plaintext, rng)));
        Assert.Equal(plaintext, vu.Decrypt(ShareEncryption.Encrypt(u, 1, v.PublicKey, 2, Context, plaintext, rng)));
        Assert.Equal(1, uv.OwnId);
        Assert.Equal(2, uv.PeerId);
    }

    [Fact]
    public void AReflectedTamperedOrMisboundCiphertextIsRefused()
    {
        var rng = new SeededRandomSource(12);
        using var u = AgreementKeyPair.Generate(rng);
        using var v = AgreementKeyPair.Generate(rng);
        using var w = AgreementKeyPair.Generate(rng);
        using var uv = ShareChannel.Establish(u, 1, v.PublicKey, 2, Context);
        using var vu = ShareChannel.Establish(v, 2, u.PublicKey, 1, Context);
        byte[] sealedShare = uv.Encrypt([1, 2, 3, 4, 5], rng);

        // The same shared secret serves both directions, but a share from u to v does not open as one from v to u.
        Assert.False(uv.TryDecrypt(sealedShare, out byte[]? reflected));
        Assert.Null(reflected);
        Assert.Throws<ShareDecryptionException>(() => uv.Decrypt(sealedShare));

        // Another round, another session, another claimed receiver id or another key pair.
        using (var otherRound = ShareChannel.Establish(v, 2, u.PublicKey, 1, Context.WithRound(4)))
        {
            Assert.False(otherRound.TryDecrypt(sealedShare, out _));
        }

        using (var otherSession = ShareChannel.Establish(v, 2, u.PublicKey, 1, new SecAggContext(new byte[32], 3)))
        {
            Assert.False(otherSession.TryDecrypt(sealedShare, out _));
        }

        using (var otherId = ShareChannel.Establish(v, 3, u.PublicKey, 1, Context))
        {
            Assert.False(otherId.TryDecrypt(sealedShare, out _));
        }

        using (var otherKey = ShareChannel.Establish(w, 2, u.PublicKey, 1, Context))
        {
            Assert.False(otherKey.TryDecrypt(sealedShare, out _));
        }

        for (int position = 0; position < sealedShare.Length; position += 7)
        {
            var tampered = (byte[])sealedShare.Clone();
            tampered[position] ^= 0x80;
            var ex = Assert.Throws<ShareDecryptionException>(() => vu.Decrypt(tampered));
            Assert.Contains("from 1 to 2", ex.Message, StringComparison.Ordinal);
        }

        Assert.Contains("at least 28 bytes", Assert.Throws<ShareDecryptionException>(() => vu.Decrypt(sealedShare[..27])).Message, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3, 4, 5], vu.Decrypt(sealedShare));
    }

    [Fact]
    public void BadArgumentsAndDisposedChannelsAreRefused()
    {
        var rng = new SeededRandomSource(13);
        using var u = AgreementKeyPair.Generate(rng);
        using var v = AgreementKeyPair.Generate(rng);
        Assert.Throws<ArgumentException>(() => ShareChannel.Establish(u, 1, v.PublicKey, 1, Context));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShareChannel.Establish(u, -1, v.PublicKey, 1, Context));
        Assert.Throws<ArgumentNullException>(() => ShareChannel.Establish(u, 0, null!, 1, Context));
        Assert.ThrowsAny<CryptographicException>(() => ShareChannel.Establish(u, 0, AgreementPublicKey.FromBytes(new byte[32]), 1, Context));

        var channel = ShareChannel.Establish(u, 1, v.PublicKey, 2, Context);
        Assert.StartsWith("ShareChannel(1 ↔ 2", channel.ToString(), StringComparison.Ordinal);
        channel.Dispose();
        Assert.Throws<ObjectDisposedException>(() => channel.Encrypt([1], rng));
        Assert.Throws<ObjectDisposedException>(() => channel.Decrypt(new byte[40]));
    }

    private static byte[] Seal(byte[] key, int sender, int receiver, byte[] plaintext)
    {
        var output = new byte[plaintext.Length + ShareEncryption.Overhead];
        using var gcm = new AesGcm(key, ShareEncryption.TagSize);
        gcm.Encrypt(new byte[12], plaintext, output.AsSpan(12, plaintext.Length), output.AsSpan(12 + plaintext.Length),
            Binding.Encode("Confide/SecAgg/share-ad/v1", Context, [sender, receiver]));
        return output;
    }
}
