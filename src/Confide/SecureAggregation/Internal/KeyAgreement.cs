using System.Security.Cryptography;
using NSec.Cryptography;

namespace Confide.SecureAggregation.Internal;

internal static class KeyAgreement
{
    /// <summary>X25519 with a clear error for low-order public keys (libsodium refuses an all-zero shared secret).</summary>
    public static SharedSecret Agree(AgreementKeyPair own, AgreementPublicKey peer)
    {
        SharedSecret? shared;
        try
        {
            shared = KeyAgreementAlgorithm.X25519.Agree(own.Key, peer.Key);
        }
        catch (CryptographicException ex)
        {
            throw new CryptographicException($"X25519 with public key {peer} failed: it is a low-order point, which no honest party sends.", ex);
        }

        return shared ?? throw new CryptographicException($"X25519 with public key {peer} failed: it is a low-order point, which no honest party sends.");
    }
}
