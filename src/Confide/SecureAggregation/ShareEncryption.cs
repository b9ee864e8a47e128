using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// Authenticated encryption of the Shamir shares one client sends another through the server (the ShareKeys stage of
/// Bonawitz et al., CCS 2017): X25519 between the sender's and the receiver's encryption keys, HKDF-SHA256 to a
/// per-direction AES-256 key, and AES-256-GCM with a 16-byte tag.
/// </summary>
/// <remarks>
/// <para>key = HKDF-SHA256(ikm = X25519(c_u^SK, c_v^PK), salt = session id,
/// info = "Confide/SecAgg/share-key/v1" ‖ session id ‖ round ‖ sender ‖ receiver ‖ c_sender^PK ‖ c_receiver^PK), 32 bytes.
/// Associated data = "Confide/SecAgg/share-ad/v1" ‖ session id ‖ round ‖ sender ‖ receiver. The output is
/// nonce (12 bytes, from the injected source) ‖ ciphertext ‖ tag (16 bytes).</para>
/// <para>Both directions between two clients use the same X25519 shared secret; the info orders sender before receiver, so
/// the two keys differ. <see cref="ShareChannel"/> computes the agreement once for both directions.</para>
/// <para>A ciphertext opened by anyone but the intended receiver, under another claimed sender, in another session or
/// round, or after any change, fails with <see cref="ShareDecryptionException"/>.</para>
/// </remarks>
public static class ShareEncryption
{
    /// <summary>The AES-GCM nonce length.</summary>
    public const int NonceSize = 12;

    /// <summary>The AES-GCM tag length.</summary>
    public const int TagSize = 16;

    /// <summary>Bytes added to the plaintext: nonce and tag.</summary>
    public const int Overhead = NonceSize + TagSize;

    /// <summary>Encrypts <paramref name="plaintext"/> from <paramref name="senderId"/> to <paramref name="receiverId"/>.</summary>
    /// <remarks>One X25519 agreement per call. A party that also decrypts from the same peer should use one <see cref="ShareChannel"/> for both.</remarks>
    public static byte[] Encrypt(
        AgreementKeyPair sender, int senderId, AgreementPublicKey receiver, int receiverId,
        SecAggContext context, ReadOnlySpan<byte> plaintext, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(random);
        ShareChannel.CheckIds(senderId, receiverId);
        var output = new byte[plaintext.Length + Overhead];
        Span<byte> nonce = output.AsSpan(0, NonceSize);
        random.NextBytes(nonce);
        Span<byte> key = stackalloc byte[32];
        try
        {
            DeriveKey(sender, receiver, context, senderId, receiverId, sender.PublicKey.ToBytes(), receiver.ToBytes(), key);
            using var gcm = new AesGcm(key, TagSize);
            gcm.Encrypt(
                nonce, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length, TagSize),
                ShareChannel.AssociatedData(context, senderId, receiverId));
            return output;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Decrypts and authenticates a share sent by <paramref name="senderId"/> to <paramref name="receiverId"/>.</summary>
    /// <returns>The plaintext (secret: zero it when done).</returns>
    /// <exception cref="ShareDecryptionException">The ciphertext is too short, was changed, or is not from that sender to this receiver in this session and round.</exception>
    public static byte[] Decrypt(
        AgreementKeyPair receiver, int receiverId, AgreementPublicKey sender, int senderId,
        SecAggContext context, ReadOnlySpan<byte> ciphertext)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(context);
        ShareChannel.CheckIds(senderId, receiverId);
        if (ciphertext.Length < Overhead)
        {
            throw new ShareDecryptionException($"An encrypted share is at least {Overhead} bytes (nonce and tag); got {ciphertext.Length}.");
        }

        var plaintext = new byte[ciphertext.Length - Overhead];
        Span<byte> key = stackalloc byte[32];
        try
        {
            DeriveKey(receiver, sender, context, senderId, receiverId, sender.ToBytes(), receiver.PublicKey.ToBytes(), key);
            using var gcm = new AesGcm(key, TagSize);
            gcm.Decrypt(
                ciphertext[..NonceSize], ciphertext.Slice(NonceSize, plaintext.Length), ciphertext[^TagSize..], plaintext,
                ShareChannel.AssociatedData(context, senderId, receiverId));
            return plaintext;
        }
        catch (AuthenticationTagMismatchException ex)
        {
            throw new ShareDecryptionException(
                $"The share from {senderId} to {receiverId} ({context}) failed authentication: it was altered, or it is addressed to another receiver, sender, session or round.", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static void DeriveKey(
        AgreementKeyPair own, AgreementPublicKey peer, SecAggContext context, int senderId, int receiverId,
        byte[] senderPublic, byte[] receiverPublic, Span<byte> key)
    {
        Span<byte> shared = stackalloc byte[KeyAgreement.SharedSecretSize];
        try
        {
            KeyAgreement.Agree(own, peer, shared);
            ShareChannel.DeriveDirectionKey(shared, context, senderId, receiverId, senderPublic, receiverPublic, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }
}
