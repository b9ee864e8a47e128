namespace Confide.SecureAggregation.Internal;

/// <summary>Which AES implementation produces the counter-mode keystream.</summary>
internal enum AesCtrBackend
{
    /// <summary>Hardware AES intrinsics when the CPU has them, otherwise the portable path.</summary>
    Auto,

    /// <summary><see cref="System.Runtime.Intrinsics.X86.Aes"/> (AES-NI), eight blocks in flight.</summary>
    Intrinsics,

    /// <summary><c>System.Security.Cryptography.Aes.EncryptEcb</c> over counter blocks.</summary>
    Portable,
}
