using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Confide.Parameters.Internal;

namespace Confide.Parameters;

/// <summary>
/// Reads and writes the safetensors format used by PyTorch and Hugging Face
/// (<see href="https://github.com/huggingface/safetensors"/>): an 8-byte little-endian unsigned header length N,
/// N bytes of UTF-8 JSON <c>{"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}, …, "__metadata__":{…}}</c>
/// (offsets relative to the data buffer after the header; the header may end in padding spaces), then the raw
/// little-endian data.
/// </summary>
/// <remarks>
/// <para>Writing produces F32 only, tensors in layout order, the header padded with spaces so the data starts on an 8-byte boundary.</para>
/// <para>
/// Reading accepts F32, F16, BF16 and F64 and converts to float32 (F64 rounds to nearest; a finite F64 outside the float32
/// range is an error, not an infinity). NaN and infinities are allowed by the format and read as they are: rejecting them is
/// the job of <see cref="Updates.UpdateValidator"/>. Without an expected layout, the returned layout lists the tensors in data-offset order,
/// which is the order the Rust reference writer and this writer use; the order of keys in the JSON only breaks ties between
/// empty tensors that share an offset.
/// </para>
/// <para>
/// A file is rejected with an <see cref="InvalidDataException"/> naming the problem when it is shorter than 8 bytes, its header
/// length runs past the end or exceeds <see cref="MaxHeaderLength"/>, the header is not a JSON object of the expected shape
/// (wrong field types, unknown or missing fields, repeated names, repeated fields), a dtype is not one of the four above, offsets are
/// out of bounds, reversed or not a multiple of the element size, a shape is negative or too large or disagrees with its byte range,
/// or the tensors do not tile the data buffer exactly (no overlaps, no holes, no trailing bytes, as the reference implementation
/// requires). All of this is checked before any tensor-sized allocation.
/// </para>
/// </remarks>
public static class Safetensors
{
    /// <summary>The largest header accepted, 100 MB, as in the reference implementation.</summary>
    public const int MaxHeaderLength = 100_000_000;

    /// <summary>The reserved header key for string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    private const int ChunkBytes = 1 << 20;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Names and metadata are data, not HTML, so keep non-ASCII readable; control characters and quotes are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>Writes <paramref name="parameters"/> as F32 tensors in layout order, with optional string metadata.</summary>
    /// <exception cref="ArgumentException">A tensor is named <see cref="MetadataKey"/>, or the header would exceed <see cref="MaxHeaderLength"/>.</exception>
    public static void Write(Stream destination, ModelParameters parameters, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        byte[] header = BuildHeader(parameters, metadata);
        destination.Write(header);
        WriteData(destination, parameters.AsSpan());
    }

    /// <summary>Writes <paramref name="parameters"/> to a new byte array; see <see cref="Write(Stream, ModelParameters, IReadOnlyDictionary{string, string}?)"/>.</summary>
    public static byte[] Write(ModelParameters parameters, IReadOnlyDictionary<string, string>? metadata = null)
    {
        byte[] header = BuildHeader(parameters, metadata);
        long total = header.Length + (4L * parameters.Length);
        if (total > Array.MaxLength)
        {
            throw new ArgumentException($"The file would be {total} bytes, too large for one array; write to a stream instead.", nameof(parameters));
        }

        var result = new byte[total];
        header.CopyTo(result, 0);
        WriteData(result.AsSpan(header.Length), parameters.AsSpan());
        return result;
    }

    /// <summary>
    /// The bytes a file of <paramref name="layout"/> starts with: the 8-byte length, the JSON header and its padding,
    /// exactly what <see cref="Write(ModelParameters, IReadOnlyDictionary{string, string}?)"/> puts before the data. The
    /// data that follows is the layout's float32 values, little-endian, in layout order; a caller that places them itself
    /// (for instance into a pooled buffer) saves a model-sized copy.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor is named <see cref="MetadataKey"/>, or the header would exceed <see cref="MaxHeaderLength"/>.</exception>
    public static byte[] WriteHeader(ParameterLayout layout, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return BuildHeader(layout, metadata);
    }

    /// <summary>Reads a whole safetensors file held in memory; the layout lists tensors in data-offset order.</summary>
    /// <exception cref="InvalidDataException">The file is malformed; the message says how.</exception>
    public static SafetensorsContent Read(ReadOnlySpan<byte> file) => ReadSpan(file, expected: null);

    /// <summary>
    /// Reads a whole safetensors file held in memory strictly against <paramref name="expected"/>: the file must hold exactly
    /// its tensors with their shapes (in any order), and the result uses <paramref name="expected"/> as its layout.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed, or its tensors differ from the layout (the message names missing, unexpected and reshaped tensors).</exception>
    public static SafetensorsContent Read(ReadOnlySpan<byte> file, ParameterLayout expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return ReadSpan(file, expected);
    }

    /// <summary>
    /// Reads a whole safetensors file held in memory strictly against <paramref name="expected"/>, as
    /// <see cref="Read(ReadOnlySpan{byte}, ParameterLayout)"/> does, into <paramref name="destination"/> (exactly
    /// <c>expected.TotalLength</c> floats, every one of them overwritten; the result's parameters wrap it). For callers
    /// that reuse model-sized buffers instead of allocating one per file.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed, or its tensors differ from the layout.</exception>
    public static SafetensorsContent ReadInto(ReadOnlySpan<byte> file, ParameterLayout expected, float[] destination)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Length != expected.TotalLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} floats; the layout needs exactly {expected.TotalLength}.", nameof(destination));
        }

        return ReadSpan(file, expected, destination);
    }

    /// <summary>
    /// Reads a safetensors file from <paramref name="source"/>, from its current position to its end; the layout lists tensors in
    /// data-offset order. A seekable stream is converted chunk by chunk; a non-seekable one is buffered (so it is limited to 2 GB).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed or truncated; the message says how.</exception>
    public static SafetensorsContent Read(Stream source) => ReadStream(source, expected: null);

    /// <summary>Reads from <paramref name="source"/> strictly against <paramref name="expected"/>; see <see cref="Read(ReadOnlySpan{byte}, ParameterLayout)"/>.</summary>
    public static SafetensorsContent Read(Stream source, ParameterLayout expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return ReadStream(source, expected);
    }

    private static SafetensorsContent ReadSpan(ReadOnlySpan<byte> file, ParameterLayout? expected, float[]? destination = null)
    {
        if (file.Length < 8)
        {
            throw TooShort(file.Length);
        }

        int headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(file), file.Length - 8L);
        var data = file[(8 + headerLength)..];
        var header = SafetensorsHeader.Parse(file.Slice(8, headerLength), data.Length);
        var (layout, targets) = Plan(header, expected);

        // The entries tile the layout (Plan checked it), so every element is written below: no need to zero it first.
        var values = destination ?? GC.AllocateUninitializedArray<float>(layout.TotalLength);
        for (int i = 0; i < header.Entries.Count; i++)
        {
            var entry = header.Entries[i];
            SafetensorsConverter.Convert(
                data[(int)entry.Begin..(int)entry.End], entry.DType, values.AsSpan(targets[i], (int)entry.ElementCount), entry.Name, 0);
        }

        return new SafetensorsContent(new ModelParameters(layout, values), header.Metadata);
    }

    private static SafetensorsContent ReadStream(Stream source, ParameterLayout? expected)
    {
        ArgumentNullException.ThrowIfNull(source);
        Span<byte> prefix = stackalloc byte[8];
        int got = source.ReadAtLeast(prefix, 8, throwOnEndOfStream: false);
        if (got < 8)
        {
            throw TooShort(got);
        }

        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (!source.CanSeek)
        {
            // The data length is unknown until the end, so buffer the rest (growing only as bytes arrive) and parse in memory.
            _ = CheckHeaderLength(declared, long.MaxValue);
            using var buffer = new MemoryStream();
            buffer.Write(prefix);
            source.CopyTo(buffer);
            return ReadSpan(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), expected);
        }

        long remaining = source.Length - source.Position;
        int headerLength = CheckHeaderLength(declared, remaining);
        byte[] headerBytes = new byte[headerLength];
        source.ReadExactly(headerBytes);
        long dataLength = remaining - headerLength;
        var header = SafetensorsHeader.Parse(headerBytes, dataLength);
        var (layout, targets) = Plan(header, expected);
        var values = new float[layout.TotalLength];
        byte[] chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            // The entries tile the buffer in offset order, so the data is read front to back with no seeking.
            for (int i = 0; i < header.Entries.Count; i++)
            {
                var entry = header.Entries[i];
                int size = SafetensorsEntry.SizeOf(entry.DType);
                int perChunk = ChunkBytes / size;
                long done = 0;
                while (done < entry.ElementCount)
                {
                    int count = (int)Math.Min(perChunk, entry.ElementCount - done);
                    var bytes = chunk.AsSpan(0, count * size);
                    try
                    {
                        source.ReadExactly(bytes);
                    }
                    catch (EndOfStreamException ex)
                    {
                        throw new InvalidDataException($"The file ends inside tensor '{entry.Name}'; it was truncated while being read.", ex);
                    }

                    SafetensorsConverter.Convert(bytes, entry.DType, values.AsSpan(targets[i] + (int)done, count), entry.Name, done);
                    done += count;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return new SafetensorsContent(new ModelParameters(layout, values), header.Metadata);
    }

    private static int CheckHeaderLength(ulong declared, long available)
    {
        if (declared > MaxHeaderLength)
        {
            throw new InvalidDataException($"The header length {declared} exceeds the {MaxHeaderLength}-byte (100 MB) limit.");
        }

        if ((long)declared > available)
        {
            throw new InvalidDataException($"The header length {declared} runs past the end of the file ({available} bytes follow the length prefix).");
        }

        return (int)declared;
    }

    private static InvalidDataException TooShort(int length) =>
        new($"The file is {length} bytes long, shorter than the 8-byte header length that starts a safetensors file.");

    /// <summary>The result layout and, per entry (in offset order), where its values go in the flat vector.</summary>
    private static (ParameterLayout Layout, int[] Targets) Plan(SafetensorsHeader header, ParameterLayout? expected)
    {
        var fileLayout = header.CreateLayout();
        var entries = header.Entries;
        var targets = new int[entries.Count];
        if (expected is null)
        {
            for (int i = 0; i < targets.Length; i++)
            {
                targets[i] = fileLayout.Tensors[i].Offset;
            }

            return (fileLayout, targets);
        }

        bool sameTensors = entries.Count == expected.Tensors.Count
            && entries.All(e => expected.Contains(e.Name) && expected[e.Name].Shape.SequenceEqual(e.Shape));
        if (!sameTensors)
        {
            throw new InvalidDataException($"The file's tensors differ from the expected layout: {expected.DescribeDifference(fileLayout)}.");
        }

        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = expected[entries[i].Name].Offset;
        }

        return (expected, targets);
    }

    private static byte[] BuildHeader(ModelParameters parameters, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return BuildHeader(parameters.Layout, metadata);
    }

    private static byte[] BuildHeader(ParameterLayout layout, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(json, WriterOptions))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(value, nameof(metadata));
                    writer.WriteString(key, value);
                }

                writer.WriteEndObject();
            }

            foreach (var spec in layout.Tensors)
            {
                if (spec.Name == MetadataKey)
                {
                    throw new ArgumentException($"A tensor may not be named \"{MetadataKey}\"; safetensors reserves that key.", nameof(layout));
                }

                writer.WriteStartObject(spec.Name);
                writer.WriteString("dtype", "F32");
                writer.WriteStartArray("shape");
                foreach (int dim in spec.Shape)
                {
                    writer.WriteNumberValue(dim);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(4L * spec.Offset);
                writer.WriteNumberValue(4L * (spec.Offset + (long)spec.Length));
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        // Pad with spaces so that the data starts on an 8-byte boundary, as the reference writer does.
        int padded = (int)(((8L + json.WrittenCount + 7) & ~7L) - 8);
        if (padded > MaxHeaderLength)
        {
            throw new ArgumentException($"The header would be {padded} bytes, over the {MaxHeaderLength}-byte limit.", nameof(layout));
        }

        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.WrittenSpan.CopyTo(header.AsSpan(8));
        header.AsSpan(8 + json.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteData(Stream destination, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            destination.Write(MemoryMarshal.AsBytes(values));
            return;
        }

        byte[] chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            for (int start = 0; start < values.Length; start += ChunkBytes / 4)
            {
                int count = Math.Min(ChunkBytes / 4, values.Length - start);
                WriteData(chunk.AsSpan(0, count * 4), values.Slice(start, count));
                destination.Write(chunk, 0, count * 4);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private static void WriteData(Span<byte> destination, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
        }
    }
}
