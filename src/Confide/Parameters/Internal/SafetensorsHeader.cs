using System.Text.Json;

namespace Confide.Parameters.Internal;

/// <summary>
/// Parses and checks a safetensors JSON header against the length of the data buffer that follows it.
/// Nothing in the file is trusted: every field's type, every offset and every shape is checked before any
/// tensor-sized allocation, and every failure is an <see cref="InvalidDataException"/> saying what was wrong.
/// </summary>
internal sealed class SafetensorsHeader
{
    private const string MetadataKey = "__metadata__";

    private SafetensorsHeader(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>The tensors sorted by their data offset (empty tensors sharing an offset in their JSON order).</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The layout of the tensors in offset order.</summary>
    public ParameterLayout CreateLayout() => ParameterLayout.Create(Entries.Select(e => (e.Name, e.Shape)));

    /// <summary>
    /// Parses <paramref name="json"/> and checks every tensor against a data buffer of <paramref name="dataLength"/> bytes.
    /// </summary>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> json, long dataLength)
    {
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            ParseJson(json, entries, metadata);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The safetensors header is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader.GetString throws this for invalid UTF-8 inside a string.
            throw new InvalidDataException($"The safetensors header is not valid JSON: {ex.Message}", ex);
        }

        foreach (var entry in entries)
        {
            CheckRange(entry, dataLength);
        }

        // The format requires the tensors to tile the buffer: sorted by offset, each starts where the previous ended,
        // the first at 0 and the last at the end. This catches overlaps and holes (which could hide data) alike.
        // OrderBy is stable, so empty tensors sharing an offset keep their JSON order (the order this writer used).
        entries = [.. entries.OrderBy(e => e.Begin).ThenBy(e => e.End)];
        long position = 0;
        string? previous = null;
        foreach (var entry in entries)
        {
            if (entry.Begin < position)
            {
                throw new InvalidDataException(
                    $"Tensor '{entry.Name}' (bytes {entry.Begin}..{entry.End}) overlaps tensor '{previous}' (which ends at byte {position}).");
            }

            if (entry.Begin > position)
            {
                throw new InvalidDataException(
                    $"The data buffer has a hole: bytes {position}..{entry.Begin} before tensor '{entry.Name}' belong to no tensor; safetensors requires the tensors to cover the buffer contiguously.");
            }

            position = entry.End;
            previous = entry.Name;
        }

        if (position != dataLength)
        {
            throw new InvalidDataException(
                $"The data buffer has {dataLength - position} bytes after the last tensor (it holds {dataLength} bytes, the tensors cover {position}); safetensors requires the tensors to cover the buffer contiguously.");
        }

        long total = 0;
        foreach (var entry in entries)
        {
            total += entry.ElementCount;
            if (total > Array.MaxLength)
            {
                throw new InvalidDataException($"The file holds more than {Array.MaxLength} values in all, more than one parameter vector can hold.");
            }
        }

        return new SafetensorsHeader(entries, metadata);
    }

    private static void CheckRange(SafetensorsEntry entry, long dataLength)
    {
        if (entry.Begin > entry.End)
        {
            throw new InvalidDataException($"Tensor '{entry.Name}' has data_offsets [{entry.Begin},{entry.End}]: begin is after end.");
        }

        if (entry.End > dataLength)
        {
            throw new InvalidDataException(
                $"Tensor '{entry.Name}' has data_offsets [{entry.Begin},{entry.End}] out of bounds: the data buffer holds {dataLength} bytes.");
        }

        int size = SafetensorsEntry.SizeOf(entry.DType);
        if (entry.Begin % size != 0)
        {
            throw new InvalidDataException(
                $"Tensor '{entry.Name}' starts at byte {entry.Begin}, which is not a multiple of its {entry.DType} element size {size}.");
        }

        // ElementCount ≤ Array.MaxLength and size ≤ 8, so the product cannot overflow.
        long expected = entry.ElementCount * size;
        if (entry.End - entry.Begin != expected)
        {
            throw new InvalidDataException(
                $"Tensor '{entry.Name}' has shape [{string.Join(',', entry.Shape)}] of {entry.DType}, which needs {expected} bytes, but data_offsets [{entry.Begin},{entry.End}] span {entry.End - entry.Begin}.");
        }
    }

    private static void ParseJson(ReadOnlySpan<byte> json, List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        // Depth 3 is all the format needs (root, tensor entry, shape); a little slack makes a wrong type read as a type error.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8, CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException($"The safetensors header is not a JSON object (it starts with {Describe(reader)}).");
        }

        // System.Text.Json accepts repeated property names, so duplicates are caught here.
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            string name = reader.GetString()!;
            Next(ref reader);
            if (name == MetadataKey)
            {
                if (sawMetadata)
                {
                    throw new InvalidDataException($"The safetensors header has \"{MetadataKey}\" twice.");
                }

                sawMetadata = true;
                ParseMetadata(ref reader, metadata);
                continue;
            }

            if (name.Length == 0)
            {
                throw new InvalidDataException("The safetensors header has a tensor with an empty name.");
            }

            if (!names.Add(name))
            {
                throw new InvalidDataException($"The safetensors header names tensor '{name}' twice.");
            }

            entries.Add(ParseTensor(ref reader, name));
        }

        // Only whitespace (the format pads with spaces) may follow the root object; the reader throws on anything else.
        if (reader.Read())
        {
            throw new InvalidDataException("The safetensors header has content after its JSON object.");
        }
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException($"\"{MetadataKey}\" must be an object of strings, not {Describe(reader)}.");
        }

        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }

            string key = reader.GetString()!;
            Next(ref reader);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new InvalidDataException($"\"{MetadataKey}\" entry '{key}' must be a string, not {Describe(reader)}.");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw new InvalidDataException($"\"{MetadataKey}\" has the key '{key}' twice.");
            }
        }
    }

    private static SafetensorsEntry ParseTensor(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException($"Tensor '{name}': its entry must be an object, not {Describe(reader)}.");
        }

        SafetensorsDType? dtype = null;
        int[]? shape = null;
        long elements = 0;
        (ulong Begin, ulong End)? offsets = null;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            string field = reader.GetString()!;
            Next(ref reader);
            switch (field)
            {
                case "dtype" when dtype is null:
                    dtype = ParseDType(ref reader, name);
                    break;
                case "shape" when shape is null:
                    (shape, elements) = ParseShape(ref reader, name);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ParseOffsets(ref reader, name);
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw new InvalidDataException($"Tensor '{name}' has the field \"{field}\" twice.");
                default:
                    // Rejected rather than ignored: a misspelt field would otherwise pass unnoticed.
                    throw new InvalidDataException($"Tensor '{name}' has an unknown field \"{field}\" (expected dtype, shape and data_offsets).");
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            string missing = string.Join(", ", new[] { dtype is null ? "dtype" : null, shape is null ? "shape" : null, offsets is null ? "data_offsets" : null }.OfType<string>());
            throw new InvalidDataException($"Tensor '{name}' lacks {missing}.");
        }

        var (begin, end) = offsets.Value;
        if (begin > long.MaxValue || end > long.MaxValue)
        {
            throw new InvalidDataException($"Tensor '{name}' has data_offsets [{begin},{end}] out of bounds.");
        }

        return new SafetensorsEntry(name, dtype.Value, shape, elements, (long)begin, (long)end);
    }

    private static SafetensorsDType ParseDType(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new InvalidDataException($"Tensor '{name}': dtype must be a string, not {Describe(reader)}.");
        }

        string text = reader.GetString()!;
        return text switch
        {
            "F32" => SafetensorsDType.F32,
            "F16" => SafetensorsDType.F16,
            "BF16" => SafetensorsDType.BF16,
            "F64" => SafetensorsDType.F64,
            _ => throw new InvalidDataException($"Tensor '{name}' has dtype \"{Truncate(text)}\", which this reader does not support (supported: F32, F16, BF16, F64)."),
        };
    }

    private static (int[] Shape, long Elements) ParseShape(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new InvalidDataException($"Tensor '{name}': shape must be an array of integers, not {Describe(reader)}.");
        }

        var dims = new List<int>();
        long elements = 1;
        bool tooMany = false;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }

            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long dim))
            {
                throw new InvalidDataException($"Tensor '{name}': shape must be an array of integers, but it holds {(reader.TokenType == JsonTokenType.Number ? "a non-integer or out-of-range number" : Describe(reader))}.");
            }

            if (dim < 0)
            {
                throw new InvalidDataException($"Tensor '{name}' has a negative dimension {dim}.");
            }

            if (dim > int.MaxValue)
            {
                throw new InvalidDataException($"Tensor '{name}' has a dimension {dim} larger than {int.MaxValue}.");
            }

            // Saturate instead of overflowing; a zero dimension later still makes the tensor empty.
            elements = elements > Array.MaxLength ? elements * Math.Min(dim, 1) : elements * dim;
            tooMany |= elements > Array.MaxLength;
            dims.Add((int)dim);
        }

        if (tooMany && elements != 0)
        {
            throw new InvalidDataException($"Tensor '{name}' has shape [{string.Join(',', dims)}], more than {Array.MaxLength} elements.");
        }

        return ([.. dims], elements);
    }

    private static (ulong Begin, ulong End) ParseOffsets(ref Utf8JsonReader reader, string name)
    {
        const string Expected = "data_offsets must be an array of two non-negative integers [begin, end]";
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new InvalidDataException($"Tensor '{name}': {Expected}, not {Describe(reader)}.");
        }

        Span<ulong> values = stackalloc ulong[2];
        int count = 0;
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }

            if (count == 2 || reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong value))
            {
                throw new InvalidDataException($"Tensor '{name}': {Expected}.");
            }

            values[count++] = value;
        }

        return count == 2 ? (values[0], values[1]) : throw new InvalidDataException($"Tensor '{name}': {Expected}.");
    }

    private static void Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new InvalidDataException("The safetensors header ends in the middle of its JSON.");
        }
    }

    private static string Describe(Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.None => "nothing",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => reader.TokenType.ToString(),
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
