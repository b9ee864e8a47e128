using System.Buffers.Binary;
using System.IO.Compression;

namespace Confide.Training.Data;

/// <summary>
/// Reads the IDX format of LeCun's MNIST distribution (also used by Fashion-MNIST), gzip-compressed or not:
/// a 4-byte magic (0, 0, type, number of dimensions), the dimensions as big-endian 32-bit integers, then the values.
/// Only type 0x08 (unsigned byte) is accepted, which is what the image and label files use. Anything else (a bad magic,
/// a zero dimension, a truncated file, trailing bytes) is an <see cref="InvalidDataException"/> that names the file.
/// </summary>
public static class IdxReader
{
    private const byte UnsignedByte = 0x08;
    private const int MaxDimensions = 4;

    /// <summary>Reads a file; gzip is detected from its first two bytes.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed unsigned-byte IDX file.</exception>
    public static IdxArray ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        }

        using var stream = File.OpenRead(path);
        return Read(stream, Path.GetFileName(path));
    }

    /// <summary>Reads from <paramref name="stream"/>; <paramref name="name"/> is used in error messages.</summary>
    public static IdxArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var buffered = new BufferedStream(stream, 1 << 16);
        Span<byte> head = stackalloc byte[4];
        int got = ReadFully(buffered, head);
        if (got >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        {
            // Restart through the decompressor: the two bytes already read belong to the gzip header.
            using var joined = new PrefixedStream(head[..got].ToArray(), buffered);
            using var gzip = new GZipStream(joined, CompressionMode.Decompress);
            return ReadRaw(new BufferedStream(gzip, 1 << 16), name, default, 0);
        }

        return ReadRaw(buffered, name, head, got);
    }

    /// <summary>Reads an images file (n × rows × columns) and a labels file (n) into a data set with pixels scaled to [0, 1].</summary>
    /// <exception cref="InvalidDataException">The files disagree on the count, a label is ≥ <paramref name="classCount"/>, or a file is malformed.</exception>
    public static Dataset ReadImagesAndLabels(string imagesPath, string labelsPath, int classCount, string name)
    {
        var images = ReadFile(imagesPath);
        var labels = ReadFile(labelsPath);
        if (images.Dimensions.Length != 3)
        {
            throw new InvalidDataException($"'{Path.GetFileName(imagesPath)}' has {images.Dimensions.Length} dimensions; an images file has 3 (count, rows, columns).");
        }

        if (labels.Dimensions.Length != 1)
        {
            throw new InvalidDataException($"'{Path.GetFileName(labelsPath)}' has {labels.Dimensions.Length} dimensions; a labels file has 1 (count).");
        }

        int count = images.Dimensions[0];
        if (labels.Dimensions[0] != count)
        {
            throw new InvalidDataException($"'{Path.GetFileName(imagesPath)}' holds {count} images but '{Path.GetFileName(labelsPath)}' holds {labels.Dimensions[0]} labels.");
        }

        var y = new int[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = labels.Values[i];
            if (y[i] >= classCount)
            {
                throw new InvalidDataException($"'{Path.GetFileName(labelsPath)}': label {y[i]} of sample {i} is not below {classCount}.");
            }
        }

        var x = new float[images.Values.Length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = images.Values[i] / 255f;
        }

        return new Dataset(name, new ImageShape(1, images.Dimensions[1], images.Dimensions[2]), classCount, x, y);
    }

    private static IdxArray ReadRaw(Stream stream, string name, ReadOnlySpan<byte> alreadyRead, int alreadyCount)
    {
        Span<byte> magic = stackalloc byte[4];
        alreadyRead[..alreadyCount].CopyTo(magic);
        if (ReadFully(stream, magic[alreadyCount..]) + alreadyCount < 4)
        {
            throw new InvalidDataException($"IDX file '{name}' is truncated: it ends inside the 4-byte magic number.");
        }

        if (magic[0] != 0 || magic[1] != 0)
        {
            throw new InvalidDataException($"'{name}' is not an IDX file: its magic number starts {magic[0]:X2} {magic[1]:X2}, expected 00 00.");
        }

        if (magic[2] != UnsignedByte)
        {
            throw new InvalidDataException($"IDX file '{name}' has element type 0x{magic[2]:X2}; only unsigned byte (0x08), as in MNIST, is supported.");
        }

        int rank = magic[3];
        if (rank < 1 || rank > MaxDimensions)
        {
            throw new InvalidDataException($"IDX file '{name}' declares {rank} dimensions; expected 1 to {MaxDimensions}.");
        }

        Span<byte> dimBytes = stackalloc byte[4 * rank];
        if (ReadFully(stream, dimBytes) < dimBytes.Length)
        {
            throw new InvalidDataException($"IDX file '{name}' is truncated: it ends inside the {rank} dimension sizes.");
        }

        var dims = new int[rank];
        long total = 1;
        for (int d = 0; d < rank; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.Slice(4 * d, 4));
            if (size == 0 || size > int.MaxValue)
            {
                throw new InvalidDataException($"IDX file '{name}': dimension {d} has size {size}; expected 1 to {int.MaxValue}.");
            }

            dims[d] = (int)size;
            total *= size;
            if (total > Array.MaxLength)
            {
                throw new InvalidDataException($"IDX file '{name}' declares more than {Array.MaxLength} values.");
            }
        }

        var values = new byte[total];
        int read = ReadFully(stream, values);
        if (read < values.Length)
        {
            throw new InvalidDataException(
                $"IDX file '{name}' is truncated: its header [{string.Join(" × ", dims)}] promises {values.Length} bytes of data, but only {read} follow.");
        }

        Span<byte> probe = stackalloc byte[1];
        if (ReadFully(stream, probe) != 0)
        {
            throw new InvalidDataException($"IDX file '{name}' has bytes after the {values.Length} its header [{string.Join(" × ", dims)}] declares.");
        }

        return new IdxArray(dims, values);
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n;
            try
            {
                n = stream.Read(buffer[total..]);
            }
            catch (InvalidDataException ex)
            {
                throw new InvalidDataException($"The gzip stream is corrupt: {ex.Message}", ex);
            }

            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>A read-only stream that yields a few bytes already consumed, then the rest of an inner stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }

            return inner.Read(buffer);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
