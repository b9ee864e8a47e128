using System.Security.Cryptography;
using Confide.Randomness;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// The pair of share-encryption keys between two clients in the ShareKeys stage of Bonawitz et al., CCS 2017: one X25519
/// agreement between their encryption keys (c_u^SK, c_v^PK), expanded by HKDF-SHA256 into an AES-256-GCM key for
/// u → v and a different one for v → u. A client encrypts its shares to v and later decrypts v's shares to it with the
/// same channel, so it computes the agreement once per peer instead of twice.
/// </summary>
/// <remarks>
/// <para>The keys, associated data and ciphertext format are exactly those of <see cref="ShareEncryption"/> (which is
/// built on this type): key(s → r) = HKDF-SHA256(ikm = X25519 shared secret, salt = session id,
/// info = "Confide/SecAgg/share-key/v1" ‖ session id ‖ round ‖ s ‖ r ‖ c_s^PK ‖ c_r^PK). Because the info names the
/// sender and the receiver in order, the two directions get independent keys even though they share one agreement,
/// so a ciphertext from u to v can never be replayed as one from v to u.</para>
/// <para>The channel holds the two 32-byte keys until <see cref="Dispose"/>, which zeroes them. It is not thread-safe
/// to dispose while encrypting; encrypting and decrypting concurrently is safe.</para>
/// </remarks>
public sealed class ShareChannel : IDisposable
{
    private const int KeySize = 32;

    // [0, 32): the key for own → peer; [32, 64): the key for peer → own.
    private readonly byte[] _keys;
    private readonly byte[] _sendAssociatedData;
    private readonly byte[] _receiveAssociatedData;
    private bool _disposed;

    private ShareChannel(byte[] keys, int ownId, int peerId, SecAggContext context)
    {
        _keys = keys;
        OwnId = ownId;
        PeerId = peerId;
        Context = context;
        _sendAssociatedData = AssociatedData(context, ownId, peerId);
        _receiveAssociatedData = AssociatedData(context, peerId, ownId);
    }

    /// <summary>This party's id: the sender of <see cref="Encrypt"/> and the receiver of <see cref="Decrypt"/>.</summary>
    public int OwnId { get; }

    /// <summary>The other party's id.</summary>
    public int PeerId { get; }

    /// <summary>The session and round the keys are bound to.</summary>
    public SecAggContext Context { get; }

    /// <summary>Computes X25519(<paramref name="own"/>, <paramref name="peer"/>) once and derives both directions' keys.</summary>
    /// <param name="own">This party's share-encryption key pair.</param>
    /// <param name="ownId">This party's id (non-negative).</param>
    /// <param name="peer">The other party's advertised share-encryption public key.</param>
    /// <param name="peerId">The other party's id (non-negative, different).</param>
    /// <param name="context">Session and round.</param>
    /// <exception cref="CryptographicException">The peer's key is a low-order point.</exception>
    public static ShareChannel Establish(AgreementKeyPair own, int ownId, AgreementPublicKey peer, int peerId, SecAggContext context)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(context);
        CheckIds(ownId, peerId);
        var keys = new byte[2 * KeySize];
        Span<byte> shared = stackalloc byte[KeyAgreement.SharedSecretSize];
        try
        {
            KeyAgreement.Agree(own, peer, shared);
            byte[] ownPublic = own.PublicKey.ToBytes();
            byte[] peerPublic = peer.ToBytes();
            DeriveDirectionKey(shared, context, ownId, peerId, ownPublic, peerPublic, keys.AsSpan(0, KeySize));
            DeriveDirectionKey(shared, context, peerId, ownId, peerPublic, ownPublic, keys.AsSpan(KeySize, KeySize));
            return new ShareChannel(keys, ownId, peerId, context);
        }
        catch
        {
            CryptographicOperations.ZeroMemory(keys);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    /// <summary>Encrypts <paramref name="plaintext"/> from this party to the peer: nonce (from <paramref name="random"/>) ‖ ciphertext ‖ tag.</summary>
    public byte[] Encrypt(ReadOnlySpan<byte> plaintext, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var output = new byte[plaintext.Length + ShareEncryption.Overhead];
        Span<byte> nonce = output.AsSpan(0, ShareEncryption.NonceSize);
        random.NextBytes(nonce);
        using var gcm = new AesGcm(_keys.AsSpan(0, KeySize), ShareEncryption.TagSize);
        gcm.Encrypt(
            nonce, plaintext, output.AsSpan(ShareEncryption.NonceSize, plaintext.Length),
            output.AsSpan(ShareEncryption.NonceSize + plaintext.Length, ShareEncryption.TagSize), _sendAssociatedData);
        return output;
    }

    /// <summary>Decrypts and authenticates a share the peer sent to this party.</summary>
    /// <returns>The plaintext (secret: zero it when done).</returns>
    /// <exception cref="ShareDecryptionException">The ciphertext is too short, was changed, or is not from the peer to this party in this session and round.</exception>
    public byte[] Decrypt(ReadOnlySpan<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!TryDecrypt(ciphertext, out byte[]? plaintext))
        {
            throw new ShareDecryptionException(ciphertext.Length < ShareEncryption.Overhead
                ? $"An encrypted share is at least {ShareEncryption.Overhead} bytes (nonce and tag); got {ciphertext.Length}."
                : $"The share from {PeerId} to {OwnId} ({Context}) failed authentication: it was altered, or it is addressed to another receiver, sender, session or round.");
        }

        return plaintext;
    }

    /// <summary>Like <see cref="Decrypt"/>, but returns false instead of throwing when the ciphertext does not authenticate.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> ciphertext, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        plaintext = null;
        if (ciphertext.Length < ShareEncryption.Overhead)
        {
            return false;
        }

        var output = new byte[ciphertext.Length - ShareEncryption.Overhead];
        try
        {
            using var gcm = new AesGcm(_keys.AsSpan(KeySize, KeySize), ShareEncryption.TagSize);
            gcm.Decrypt(
                ciphertext[..ShareEncryption.NonceSize], ciphertext.Slice(ShareEncryption.NonceSize, output.Length),
                ciphertext[^ShareEncryption.TagSize..], output, _receiveAssociatedData);
            plaintext = output;
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            // AesGcm has already cleared the output; nothing of the forged plaintext is returned.
            return false;
        }
    }

    /// <summary>Zeroes both keys.</summary>
    public void Dispose()
    {
        _disposed = true;
        CryptographicOperations.ZeroMemory(_keys);
    }

    /// <inheritdoc/>
    public override string ToString() => $"ShareChannel({OwnId} ↔ {PeerId}, {Context})";

    /// <summary>The AES-256-GCM key for shares from <paramref name="senderId"/> to <paramref name="receiverId"/>.</summary>
    internal static void DeriveDirectionKey(
        ReadOnlySpan<byte> shared, SecAggContext context, int senderId, int receiverId, byte[] senderPublic, byte[] receiverPublic, Span<byte> key)
    {
        byte[] info = Binding.Encode("Confide/SecAgg/share-key/v1", context, [senderId, receiverId], senderPublic, receiverPublic);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, key, context.SessionId, info);
    }

    /// <summary>The associated data of a share from <paramref name="senderId"/> to <paramref name="receiverId"/>.</summary>
    internal static byte[] AssociatedData(SecAggContext context, int senderId, int receiverId) =>
        Binding.Encode("Confide/SecAgg/share-ad/v1", context, [senderId, receiverId]);

    internal static void CheckIds(int senderId, int receiverId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(senderId);
        ArgumentOutOfRangeException.ThrowIfNegative(receiverId);
        if (senderId == receiverId)
        {
            throw new ArgumentException($"A share is sent to another party; sender and receiver are both {senderId}.", nameof(receiverId));
        }
    }
}
