using System.Runtime.InteropServices;

namespace Confide.SecureAggregation.Internal;

/// <summary>
/// Direct calls into the libsodium that NSec ships and loads, for the one operation whose NSec wrapper costs more than
/// the operation itself: X25519. NSec returns every shared secret in guarded secure memory (sodium_malloc, mprotect,
/// munmap on dispose), which doubles the cost of an agreement; secure aggregation does thousands of agreements per
/// client, each used once, straight away, by HKDF.
/// </summary>
internal static partial class Libsodium
{
    // The name NSec's own interop uses, so the runtime resolves the same native library from NSec's package.
    private const string Library = "libsodium";

    static Libsodium()
    {
        // Idempotent and thread-safe: 0 on first call, 1 if NSec already initialised it, -1 on failure.
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium failed to initialise.");
        }
    }

    /// <summary>
    /// q = X25519(n, p) (RFC 7748). False when the result is all zeros, which happens exactly when p is a low-order point.
    /// </summary>
    public static bool ScalarMultCurve25519(Span<byte> q, ReadOnlySpan<byte> n, ReadOnlySpan<byte> p)
    {
        if (q.Length != 32 || n.Length != 32 || p.Length != 32)
        {
            throw new ArgumentException($"X25519 takes 32-byte scalars and points; got {q.Length}, {n.Length} and {p.Length} bytes.");
        }

        return crypto_scalarmult_curve25519(q, n, p) == 0;
    }

    [LibraryImport(Library)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.SafeDirectories)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.SafeDirectories)]
    private static partial int crypto_scalarmult_curve25519(Span<byte> q, ReadOnlySpan<byte> n, ReadOnlySpan<byte> p);
}
