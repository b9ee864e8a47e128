using System.Security.Cryptography;

namespace Confide.SecureAggregation.Internal;

internal static class KeyAgreement
{
    /// <summary>The X25519 shared secret length.</summary>
    public const int SharedSecretSize = 32;

    /// <summary>
    /// X25519(own, peer) into <paramref name="shared"/> (32 bytes; secret: the caller zeroes it), with a clear error for a
    /// low-order public key, whose shared secret would be all zeros.
    /// </summary>
    /// <remarks>
    /// This calls libsodium directly (<see cref="Libsodium"/>) with the private scalar exported to the stack for the call
    /// and zeroed after it; the result is the same <c>crypto_scalarmult_curve25519</c> that NSec's Agree computes.
    /// </remarks>
    public static void Agree(AgreementKeyPair own, AgreementPublicKey peer, Span<byte> shared)
    {
        if (shared.Length != SharedSecretSize)
        {
            throw new ArgumentException($"An X25519 shared secret is {SharedSecretSize} bytes; the destination has {shared.Length}.", nameof(shared));
        }

        Span<byte> scalar = stackalloc byte[AgreementKeyPair.PrivateKeySize];
        try
        {
            own.ExportPrivateKey(scalar);
            if (!Libsodium.ScalarMultCurve25519(shared, scalar, peer.Bytes))
            {
                CryptographicOperations.ZeroMemory(shared);
                throw new CryptographicException($"X25519 with public key {peer} failed: it is a low-order point, which no honest party sends.");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scalar);
        }
    }
}
