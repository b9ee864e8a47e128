using System.Buffers;
using Confide.Wire;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Client.Internal;

/// <summary>
/// One model download: the chunks go straight from the response's bytes into the model buffer, with no per-chunk
/// <c>ByteString</c> in between. The response deserializer (<see cref="Deserialize"/>) finds the download of the call
/// it runs for through an <see cref="AsyncLocal{T}"/> set by <see cref="FederationClient"/> before it reads the stream
/// (Grpc.Net.Client runs the deserializer inside <c>MoveNext</c>, in the caller's execution context).
/// </summary>
/// <remarks>
/// Every chunk is checked as before: the first one's size announcement against <c>maxBytes</c>, then each offset and
/// total against what was received. A failed check is kept in <see cref="Failure"/> and thrown by the reading loop, so the
/// caller sees the same <see cref="InvalidDataException"/> as when the chunks were copied there.
/// </remarks>
internal sealed class ModelDownload(long maxBytes, Func<int, byte[]> allocate)
{
    /// <summary>The method with this response deserializer (the request side is the generated one).</summary>
    public static readonly Method<FetchModelRequest, ModelChunk> FetchModelMethod = new(
        MethodType.ServerStreaming,
        Federation.Descriptor.FullName,
        "FetchModel",
        Marshallers.Create<FetchModelRequest>(r => r.ToByteArray(), FetchModelRequest.Parser.ParseFrom),
        Marshallers.Create<ModelChunk>((chunk, context) => context.Complete(chunk.ToByteArray()), Deserialize));

    private static readonly AsyncLocal<ModelDownload?> CurrentDownload = new();

    /// <summary>The download the current call's chunks go to, or null to parse them as ordinary messages.</summary>
    public static ModelDownload? Current
    {
        get => CurrentDownload.Value;
        set => CurrentDownload.Value = value;
    }

    /// <summary>The model buffer (null before the first chunk).</summary>
    public byte[]? Buffer { get; private set; }

    /// <summary>The announced size.</summary>
    public int Total { get; private set; }

    /// <summary>The bytes received so far.</summary>
    public long Received { get; private set; }

    /// <summary>Why the stream was refused, once it was.</summary>
    public InvalidDataException? Failure { get; private set; }

    /// <summary>The ModelChunk deserializer: with a download in place the data goes into it and the chunk returned is empty.</summary>
    public static ModelChunk Deserialize(DeserializationContext context)
    {
        var payload = context.PayloadAsReadOnlySequence();
        var download = Current;
        if (download is null)
        {
            return ModelChunk.Parser.ParseFrom(payload);
        }

        if (!TryReadCanonical(payload, out long offset, out long total, out var data))
        {
            var parsed = ModelChunk.Parser.ParseFrom(payload);
            (offset, total, data) = (parsed.Offset, parsed.TotalBytes, new ReadOnlySequence<byte>(parsed.Data.Memory));
        }

        download.Accept(offset, total, data);
        return new ModelChunk { Offset = offset, TotalBytes = total, Data = ByteString.Empty };
    }

    /// <summary>
    /// Recognises the encoding every protobuf writer gives a chunk: fields 1 (offset) and 2 (total_bytes) as varints,
    /// each at most once, then field 3 (data) filling the rest of the message. Anything else returns false and is parsed in full.
    /// </summary>
    internal static bool TryReadCanonical(ReadOnlySequence<byte> message, out long offset, out long total, out ReadOnlySequence<byte> data)
    {
        (offset, total, data) = (0, 0, ReadOnlySequence<byte>.Empty);
        var reader = new SequenceReader<byte>(message);
        bool seenOffset = false, seenTotal = false;
        while (reader.TryRead(out byte tag))
        {
            switch (tag)
            {
                case 0x08 when !seenOffset && TryReadVarint(ref reader, out offset):
                    seenOffset = true;
                    break;
                case 0x10 when !seenTotal && TryReadVarint(ref reader, out total):
                    seenTotal = true;
                    break;
                case 0x1A when TryReadVarint(ref reader, out long length) && length == reader.Remaining:
                    data = message.Slice(reader.Position);
                    return true;
                default:
                    return false;
            }
        }

        return true;
    }

    /// <summary>Checks a chunk against what came before and copies its data into the model buffer (or records the <see cref="Failure"/>).</summary>
    public void Accept(long offset, long total, ReadOnlySequence<byte> data)
    {
        if (Failure is not null)
        {
            return;
        }

        if (Buffer is null)
        {
            if (total <= 0 || total > Math.Min(maxBytes, Array.MaxLength))
            {
                Failure = new InvalidDataException($"The server announces a {total}-byte model; at most {maxBytes} bytes are accepted.");
                return;
            }

            Total = (int)total;
            Buffer = allocate(Total);
        }

        if (offset != Received || total != Total || Received + data.Length > Total)
        {
            Failure = new InvalidDataException($"Model chunk at offset {offset} ({data.Length} bytes) does not continue the {Received} bytes received of {Total}.");
            return;
        }

        data.CopyTo(Buffer.AsSpan(checked((int)Received)));
        Received += data.Length;
    }

    /// <summary>An int64 field: the varint's two's complement.</summary>
    private static bool TryReadVarint(ref SequenceReader<byte> reader, out long value)
    {
        bool read = ProtobufVarint.TryRead(ref reader, out ulong raw);
        value = unchecked((long)raw);
        return read;
    }
}
