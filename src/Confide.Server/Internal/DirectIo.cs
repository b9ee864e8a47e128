using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Confide.Server.Internal;

/// <summary>
/// Writes a file with <c>O_DIRECT</c> on Linux: the device reads the bytes straight from the caller's buffer, so they
/// are not first copied into the page cache (which, for 400 MB of pending updates per 100 × 1M round, cost the server
/// more CPU than the copy itself: page allocation, reclaim under memory pressure, and writeback). The file is still
/// flushed to disk (<c>fsync</c>) before this returns, so durability is the same as a buffered write and a flush.
/// </summary>
/// <remarks>
/// <c>O_DIRECT</c> needs block-aligned memory, lengths and offsets: the caller's buffer must start on a
/// <see cref="Alignment"/> boundary (see <see cref="UploadBufferPool"/>); the whole blocks are written from it, a last
/// partial block through a zero-padded aligned block, and the file is then cut back to its length. Where the flag is not
/// available (another OS or architecture, a file system that refuses it, an unaligned buffer) <see cref="TryWriteFile"/>
/// returns false and the caller writes through the page cache as before.
/// </remarks>
internal static partial class DirectIo
{
    /// <summary>The alignment used for memory, lengths and offsets (a page; a multiple of every common logical block size).</summary>
    public const int Alignment = 4096;

    private const int GetFlags = 3;
    private const int SetFlags = 4;

    // O_DIRECT's value differs between architectures; only the two this project runs on are used.
    private static readonly int DirectFlag = !OperatingSystem.IsLinux() ? 0 : RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 0x4000,
        Architecture.Arm64 => 0x10000,
        _ => 0,
    };

    /// <summary>
    /// Creates (or truncates) <paramref name="path"/>, writes <paramref name="content"/> with <c>O_DIRECT</c> and
    /// flushes it to disk. Returns false, having written nothing that counts, when direct I/O is not possible here;
    /// the caller then writes the file the ordinary way.
    /// </summary>
    public static unsafe bool TryWriteFile(string path, ReadOnlySpan<byte> content)
    {
        if (DirectFlag == 0 || content.Length == 0)
        {
            return false;
        }

        fixed (byte* start = content)
        {
            if (((nint)start & (Alignment - 1)) != 0)
            {
                return false;
            }

            using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None);
            if (!TrySetDirect(handle))
            {
                return false;
            }

            int whole = content.Length & ~(Alignment - 1);
            try
            {
                if (whole > 0)
                {
                    RandomAccess.Write(handle, content[..whole], 0);
                }

                if (whole < content.Length)
                {
                    // The last partial block goes through an aligned, zero-padded block; the padding is cut off below.
                    byte* block = (byte*)NativeMemory.AlignedAlloc(Alignment, Alignment);
                    try
                    {
                        var padded = new Span<byte>(block, Alignment);
                        padded.Clear();
                        content[whole..].CopyTo(padded);
                        RandomAccess.Write(handle, padded, whole);
                    }
                    finally
                    {
                        NativeMemory.AlignedFree(block);
                    }

                    RandomAccess.SetLength(handle, content.Length);
                }

                RandomAccess.FlushToDisk(handle);
                return true;
            }
            catch (IOException)
            {
                // EINVAL from a device with larger blocks, for instance: the caller rewrites the file through the page cache.
                return false;
            }
        }
    }

    private static bool TrySetDirect(SafeFileHandle handle)
    {
        int fd = (int)handle.DangerousGetHandle();
        int flags = Fcntl(fd, GetFlags, 0);
        return flags >= 0 && Fcntl(fd, SetFlags, flags | DirectFlag) == 0;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Fcntl(int fd, int command, int argument);
}
