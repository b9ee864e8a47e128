using System.Buffers;
using Confide.Client.Internal;
using Confide.Server.Internal;
using Confide.Wire.V1;
using CsCheck;
using Google.Protobuf;
using Grpc.Core;

namespace Confide.Server.Tests;

/// <summary>
/// The deserializers that copy upload chunks straight into the update buffer (<see cref="UploadSink"/>) and model
/// chunks straight into the model buffer (<see cref="ModelDownload"/>): whatever the encoding and however the bytes are
/// split into segments, they deliver exactly what the generated parser would, and they refuse what the copying loops
/// refused. (Every upload and download in the other server tests goes through them too.)
/// </summary>
public sealed class ChunkSinkTests
{
    private static readonly Gen<byte[]> Data = Gen.Byte.Array[0, 3000];

    [Fact]
    public void Upload_chunks_land_in_the_buffer_byte_for_byte_however_the_message_is_segmented()
    {
        Gen.Select(Data, Data, Gen.Int[1, 700]).Sample((first, second, segment) =>
        {
            var buffer = new byte[first.Length + second.Length];
            var sink = new UploadSink(buffer, buffer.Length);
            UploadSink.Current = sink;
            try
            {
                foreach (byte[] data in new[] { first, second })
                {
                    byte[] message = new UpdateMessage { Chunk = new UpdateChunk { Data = ByteString.CopyFrom(data) } }.ToByteArray();
                    Assert.True(UploadSink.TryReadCanonicalChunk(Segmented(message, segment), out _));
                    var result = UploadSink.Deserialize(new Context(Segmented(message, segment)));
                    Assert.Equal(UpdateMessage.PartOneofCase.Chunk, result.PartCase);
                    Assert.True(result.Chunk.Data.IsEmpty);
                }
            }
            finally
            {
                UploadSink.Current = null;
            }

            Assert.Equal(buffer.Length, sink.Received);
            Assert.Equal([.. first, .. second], buffer);
        }, iter: 200);
    }

    [Fact]
    public void An_upload_chunk_in_another_encoding_takes_the_general_parser_to_the_same_place()
    {
        byte[] data = [1, 2, 3, 4, 5];

        // UpdateChunk with an unknown field 7 (varint 1) after the data: valid protobuf, not the canonical shape.
        var inner = new UpdateChunk { Data = ByteString.CopyFrom(data) }.ToByteArray().Concat(new byte[] { 0x38, 0x01 }).ToArray();
        byte[] message = [0x12, (byte)inner.Length, .. inner];
        Assert.False(UploadSink.TryReadCanonicalChunk(new ReadOnlySequence<byte>(message), out _));
        Assert.Equal(data, UpdateMessage.Parser.ParseFrom(message).Chunk.Data.ToByteArray());

        var buffer = new byte[data.Length];
        var sink = new UploadSink(buffer, buffer.Length);
        UploadSink.Current = sink;
        try
        {
            var result = UploadSink.Deserialize(new Context(new ReadOnlySequence<byte>(message)));
            Assert.Equal(UpdateMessage.PartOneofCase.Chunk, result.PartCase);
        }
        finally
        {
            UploadSink.Current = null;
        }

        Assert.Equal(data, buffer);
        Assert.Equal(data.Length, sink.Received);
    }

    [Fact]
    public void A_header_is_parsed_as_a_header_and_nothing_reaches_the_buffer()
    {
        byte[] message = new UpdateMessage { Header = new UpdateHeader { Round = 3, TotalBytes = 10 } }.ToByteArray();
        Assert.False(UploadSink.TryReadCanonicalChunk(new ReadOnlySequence<byte>(message), out _));
        var sink = new UploadSink(new byte[10], 10);
        UploadSink.Current = sink;
        try
        {
            var result = UploadSink.Deserialize(new Context(new ReadOnlySequence<byte>(message)));
            Assert.Equal(UpdateMessage.PartOneofCase.Header, result.PartCase);
            Assert.Equal(3, result.Header.Round);
        }
        finally
        {
            UploadSink.Current = null;
        }

        Assert.Equal(0, sink.Received);
    }

    [Fact]
    public void More_bytes_than_declared_are_refused_with_resource_exhausted()
    {
        var sink = new UploadSink(new byte[8], 4);
        byte[] message = new UpdateMessage { Chunk = new UpdateChunk { Data = ByteString.CopyFrom(new byte[5]) } }.ToByteArray();
        UploadSink.Current = sink;
        try
        {
            var ex = Assert.Throws<RpcException>(() => UploadSink.Deserialize(new Context(new ReadOnlySequence<byte>(message))));
            Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
            Assert.Contains("more than the 4 bytes", ex.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            UploadSink.Current = null;
        }

        Assert.Equal(0, sink.Received);
    }

    [Fact]
    public void Without_a_sink_messages_parse_as_usual()
    {
        byte[] data = [9, 8, 7];
        byte[] message = new UpdateMessage { Chunk = new UpdateChunk { Data = ByteString.CopyFrom(data) } }.ToByteArray();
        Assert.Equal(data, UploadSink.Deserialize(new Context(new ReadOnlySequence<byte>(message))).Chunk.Data.ToByteArray());
        byte[] chunk = new ModelChunk { Offset = 4, TotalBytes = 7, Data = ByteString.CopyFrom(data) }.ToByteArray();
        Assert.Equal(data, ModelDownload.Deserialize(new Context(new ReadOnlySequence<byte>(chunk))).Data.ToByteArray());
    }

    [Fact]
    public void Model_chunks_land_in_the_buffer_byte_for_byte_in_any_encoding_and_segmentation()
    {
        Gen.Select(Data, Gen.Int[1, 4], Gen.Int[1, 700], Gen.Bool).Sample((model, parts, segment, reorder) =>
        {
            var download = new ModelDownload(1 << 20, n => new byte[n]);
            ModelDownload.Current = download;
            try
            {
                int offset = 0;
                for (int p = 0; p < parts; p++)
                {
                    int length = p == parts - 1 ? model.Length - offset : model.Length / parts;
                    var chunk = new ModelChunk { Offset = offset, TotalBytes = model.Length, Data = ByteString.CopyFrom(model, offset, length) };

                    // Reordered fields (data first) are valid protobuf the fast path does not take.
                    byte[] message = reorder ? [.. new ModelChunk { Data = chunk.Data }.ToByteArray(), .. new ModelChunk { Offset = chunk.Offset, TotalBytes = chunk.TotalBytes }.ToByteArray()] : chunk.ToByteArray();
                    var result = ModelDownload.Deserialize(new Context(Segmented(message, segment)));
                    Assert.Equal(offset, result.Offset);
                    offset += length;
                }
            }
            finally
            {
                ModelDownload.Current = null;
            }

            if (model.Length == 0)
            {
                // A zero-byte model is refused as before.
                Assert.NotNull(download.Failure);
                return;
            }

            Assert.Null(download.Failure);
            Assert.Equal(model.Length, download.Received);
            Assert.Equal(model, download.Buffer);
        }, iter: 200);
    }

    [Fact]
    public void A_model_chunk_that_does_not_continue_the_stream_or_an_oversized_model_is_refused()
    {
        var download = new ModelDownload(100, n => new byte[n]);
        ModelDownload.Current = download;
        try
        {
            ModelDownload.Deserialize(new Context(new ReadOnlySequence<byte>(new ModelChunk { Offset = 0, TotalBytes = 10, Data = ByteString.CopyFrom(new byte[4]) }.ToByteArray())));
            Assert.Null(download.Failure);
            ModelDownload.Deserialize(new Context(new ReadOnlySequence<byte>(new ModelChunk { Offset = 5, TotalBytes = 10, Data = ByteString.CopyFrom(new byte[4]) }.ToByteArray())));
            Assert.Contains("does not continue", download.Failure?.Message, StringComparison.Ordinal);
        }
        finally
        {
            ModelDownload.Current = null;
        }

        var huge = new ModelDownload(100, n => new byte[n]);
        ModelDownload.Current = huge;
        try
        {
            ModelDownload.Deserialize(new Context(new ReadOnlySequence<byte>(new ModelChunk { Offset = 0, TotalBytes = 101, Data = ByteString.CopyFrom(new byte[4]) }.ToByteArray())));
            Assert.Contains("101-byte model", huge.Failure?.Message, StringComparison.Ordinal);
            Assert.Null(huge.Buffer);
        }
        finally
        {
            ModelDownload.Current = null;
        }
    }

    [Fact]
    public void Chunks_parsed_without_a_sink_in_view_can_be_fed_to_it_by_the_reading_loop_with_the_same_result()
    {
        byte[] model = [.. Enumerable.Range(0, 300).Select(i => (byte)(i % 251))];
        var download = new ModelDownload(1 << 20, n => new byte[n]);
        var upload = new UploadSink(new byte[model.Length], model.Length);
        for (int offset = 0; offset < model.Length; offset += 128)
        {
            int length = Math.Min(128, model.Length - offset);
            var data = ByteString.CopyFrom(model, offset, length);
            var chunk = ModelDownload.Deserialize(new Context(new ReadOnlySequence<byte>(new ModelChunk { Offset = offset, TotalBytes = model.Length, Data = data }.ToByteArray())));
            download.Accept(chunk.Offset, chunk.TotalBytes, new ReadOnlySequence<byte>(chunk.Data.Memory));
            var message = UploadSink.Deserialize(new Context(new ReadOnlySequence<byte>(new UpdateMessage { Chunk = new UpdateChunk { Data = data } }.ToByteArray())));
            upload.Append(new ReadOnlySequence<byte>(message.Chunk.Data.Memory));
        }

        Assert.Null(download.Failure);
        Assert.Equal(model, download.Buffer);
        Assert.Equal(model.Length, upload.Received);
    }

    [Fact]
    public void The_update_array_pool_hands_back_what_it_took_and_drops_arrays_of_another_length()
    {
        var pool = new UpdateArrayPool(16);
        var first = pool.Rent();
        Assert.Equal(16, first.Length);
        pool.Return(first);
        Assert.Same(first, pool.Rent());
        pool.Return(new float[15]);
        Assert.NotEqual(15, pool.Rent().Length);
    }

    /// <summary>The message's bytes split into segments of <paramref name="size"/> bytes, as a pipe may hand them over.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        if (bytes.Length <= size)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, size), 0);
        var last = first;
        for (int offset = size; offset < bytes.Length; offset += size)
        {
            last = last.Append(bytes.AsMemory(offset, Math.Min(size, bytes.Length - offset)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    private sealed class Context(ReadOnlySequence<byte> payload) : DeserializationContext
    {
        public override int PayloadLength => (int)payload.Length;

        public override byte[] PayloadAsNewBuffer() => payload.ToArray();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => payload;
    }
}
