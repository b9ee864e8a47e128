using System.Buffers;
using Confide.Wire;
using Confide.Wire.V1;
using Grpc.Core;

namespace Confide.Server.Internal;

/// <summary>
/// Where the chunks of one SubmitUpdate stream go: straight from the request's bytes into the update's buffer, with no
/// per-chunk <c>ByteString</c> in between. The request deserializer (<see cref="Deserialize"/>) finds the sink of the
/// call it runs for through an <see cref="AsyncLocal{T}"/> that <see cref="FederationService"/> sets before it reads
/// the chunks (grpc-dotnet runs the deserializer inside the service's <c>MoveNext</c>, in its execution context).
/// </summary>
/// <remarks>
/// Only what is copied here counts as received, and the body hash is taken over the buffer afterwards, so a chunk that
/// takes the general protobuf path (any encoding other than the canonical one) lands in the same place the same way.
/// </remarks>
internal sealed class UploadSink(Memory<byte> buffer, int limit)
{
    private static readonly AsyncLocal<UploadSink?> CurrentSink = new();

    /// <summary>The bytes received so far (at the start of the buffer).</summary>
    public int Received { get; private set; }

    /// <summary>The sink chunks of the current call go to, or null to parse them as ordinary messages.</summary>
    public static UploadSink? Current
    {
        get => CurrentSink.Value;
        set => CurrentSink.Value = value;
    }

    /// <summary>
    /// The SubmitUpdate request deserializer. With a sink in place, a chunk's bytes are appended to it and the message
    /// returned carries an empty chunk; anything else (the header, or any message without a sink) is parsed as usual.
    /// </summary>
    public static UpdateMessage Deserialize(DeserializationContext context)
    {
        var payload = context.PayloadAsReadOnlySequence();
        var sink = Current;
        if (sink is null)
        {
            return UpdateMessage.Parser.ParseFrom(payload);
        }

        if (TryReadCanonicalChunk(payload, out var data))
        {
            sink.Append(data);
            return new UpdateMessage { Chunk = new UpdateChunk() };
        }

        var message = UpdateMessage.Parser.ParseFrom(payload);
        if (message.PartCase == UpdateMessage.PartOneofCase.Chunk)
        {
            sink.Append(new ReadOnlySequence<byte>(message.Chunk.Data.Memory));
            message.Chunk.Data = Google.Protobuf.ByteString.Empty;
        }

        return message;
    }

    /// <summary>
    /// Recognises the encoding every protobuf writer gives a chunk: field 2 (UpdateChunk) holding only field 1 (data),
    /// each tag once, the lengths filling the message exactly. Anything else returns false and is parsed in full.
    /// </summary>
    internal static bool TryReadCanonicalChunk(ReadOnlySequence<byte> message, out ReadOnlySequence<byte> data)
    {
        data = default;
        var reader = new SequenceReader<byte>(message);
        if (!reader.TryRead(out byte tag) || tag != 0x12 || !TryReadLength(ref reader, out long chunkLength) || chunkLength != reader.Remaining)
        {
            return false;
        }

        if (chunkLength == 0)
        {
            data = ReadOnlySequence<byte>.Empty;
            return true;
        }

        if (!reader.TryRead(out tag) || tag != 0x0A || !TryReadLength(ref reader, out long dataLength) || dataLength != reader.Remaining)
        {
            return false;
        }

        data = message.Slice(reader.Position);
        return true;
    }

    /// <summary>Copies <paramref name="data"/> after what was received; refuses more than the declared length.</summary>
    public void Append(ReadOnlySequence<byte> data)
    {
        if (Received + data.Length > limit)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"the update sends more than the {limit} bytes its header declares"));
        }

        data.CopyTo(buffer.Span[Received..]);
        Received += (int)data.Length;
    }

    /// <summary>A length: a varint that fits a non-negative long.</summary>
    private static bool TryReadLength(ref SequenceReader<byte> reader, out long value)
    {
        bool read = ProtobufVarint.TryRead(ref reader, out ulong raw);
        value = unchecked((long)raw);
        return read && raw <= long.MaxValue;
    }
}
