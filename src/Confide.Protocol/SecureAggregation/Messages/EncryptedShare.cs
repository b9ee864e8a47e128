namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The sender's shares (of its self-mask seed and of its mask private key) for one receiver, encrypted with AES-256-GCM
/// under a key from X25519 + HKDF bound to the session, round, sender and receiver. The server only relays it.
/// </summary>
public sealed record EncryptedShare(int Sender, int Receiver, byte[] Ciphertext);
