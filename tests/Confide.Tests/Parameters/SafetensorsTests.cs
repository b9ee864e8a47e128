using System.Buffers.Binary;
using System.Text;
using Confide.Parameters;
using CsCheck;

namespace Confide.Tests.Parameters;

public sealed class SafetensorsTests
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(("fc.weight", [3, 2]), ("fc.bias", [2]));

    // ---------- round trips ----------

    [Fact]
    public void RandomLayoutsAndValuesRoundTripBitExactly()
    {
        var names = Gen.OneOf("w", "layer.0.weight", "bias", "ünïcode", "quote\"d", "tab\tname", "<html>&");
        var shape = Gen.Int[0, 4].Array[0, 3];
        var layout = Gen.Select(names, shape).Array[0, 5]
            .Select(ts => ParameterLayout.Create(ts.Select((t, i) => ($"{t.Item1}{i}", t.Item2))));
        var parameters = layout.SelectMany(l =>
            Gen.UInt.Array[l.TotalLength].Select(bits => new ModelParameters(l, [.. bits.Select(BitConverter.UInt32BitsToSingle)])));

        parameters.Sample(p =>
        {
            byte[] file = Safetensors.Write(p);
            AssertSameBits(p, Safetensors.Read(file).Parameters);
            AssertSameBits(p, Safetensors.Read(new MemoryStream(file)).Parameters);
            AssertSameBits(p, Safetensors.Read(new NonSeekableStream(file)).Parameters);
            AssertSameBits(p, Safetensors.Read(file, p.Layout).Parameters);
            Assert.Equal(0, (8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(file)) % 8);
        }, iter: 200);
    }

    [Fact]
    public void CorruptedFilesFailOnlyWithInvalidDataException()
    {
        // Overwrite a few random bytes (mostly in the header, where the structure is) or cut the file short:
        // every outcome must be a successful read or an InvalidDataException, never another exception.
        var p = new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8]);
        byte[] original = Safetensors.Write(p, new Dictionary<string, string> { ["k"] = "v" });
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var edit = Gen.Select(Gen.Int[0, headerEnd - 1], Gen.Byte);
        var corruption = Gen.Select(edit.Array[1, 4], Gen.Int[0, original.Length], Gen.Bool);
        corruption.Sample(c =>
        {
            var (edits, cut, truncate) = c;
            byte[] file = (byte[])original.Clone();
            foreach (var (at, value) in edits)
            {
                file[at] = value;
            }

            if (truncate)
            {
                file = file[..cut];
            }

            foreach (Func<SafetensorsContent> read in new Func<SafetensorsContent>[]
            {
                () => Safetensors.Read(file),
                () => Safetensors.Read(new MemoryStream(file)),
                () => Safetensors.Read(new NonSeekableStream(file)),
                () => Safetensors.Read(file, Layout),
            })
            {
                try
                {
                    _ = read();
                }
                catch (InvalidDataException)
                {
                }
            }
        }, iter: 2000);
    }

    [Fact]
    public void MetadataRoundTrips()
    {
        var p = new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8]);
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünï \"quoted\"" };
        var back = Safetensors.Read(Safetensors.Write(p, metadata));
        Assert.Equal(metadata.OrderBy(kv => kv.Key), back.Metadata.OrderBy(kv => kv.Key));
        Assert.Empty(Safetensors.Read(Safetensors.Write(p)).Metadata);
    }

    [Fact]
    public void WriterProducesTheReferenceHeaderWithSpacePadding()
    {
        var p = new ModelParameters(ParameterLayout.Create(("w", [2])), [1f, -2f]);
        byte[] file = Safetensors.Write(p);
        const string Json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(Json.Length + ((8 - ((8 + Json.Length) % 8)) % 8), headerLength);
        Assert.Equal(Json.PadRight(headerLength), Encoding.UTF8.GetString(file, 8, headerLength));
        Assert.Equal(F32(1f, -2f), file[(8 + headerLength)..]);
    }

    /// <summary>
    /// The reference Python binding's serialization test (huggingface/safetensors, bindings/python/tests/test_simple.py)
    /// saves int32 zeros of shape [2, 2] as "@\0\0\0\0\0\0\0" + the JSON + 4 spaces + 16 zero bytes. F32 has the same
    /// length as I32, so our writer must produce exactly those bytes with "F32" in place of "I32".
    /// </summary>
    [Fact]
    public void WriterMatchesTheReferenceBindingByteForByte()
    {
        byte[] expected =
        [
            .. "@\0\0\0\0\0\0\0"u8,
            .. "{\"test\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}    "u8,
            .. new byte[16],
        ];
        Assert.Equal(expected, Safetensors.Write(ModelParameters.Zeros(ParameterLayout.Create(("test", [2, 2])))));
    }

    /// <summary>The reference binding's "load with metadata" vector (dtype switched to F32, padding as published).</summary>
    [Fact]
    public void ReaderLoadsTheReferenceMetadataVector()
    {
        byte[] file =
        [
            .. "f\0\0\0\0\0\0\0"u8,
            .. "{\"__metadata__\":{\"framework\":\"pt\"},\"test1\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}       "u8,
            .. new byte[16],
        ];
        var content = Safetensors.Read(file);
        Assert.Equal("pt", content.Metadata["framework"]);
        Assert.Equal(ParameterLayout.Create(("test1", [2, 2])), content.Parameters.Layout);
        Assert.Equal(new float[4], content.Parameters.AsSpan().ToArray());
    }

    [Fact]
    public void StreamWriteMatchesArrayWrite()
    {
        var p = new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8]);
        using var stream = new MemoryStream();
        Safetensors.Write(stream, p, new Dictionary<string, string> { ["k"] = "v" });
        Assert.Equal(Safetensors.Write(p, new Dictionary<string, string> { ["k"] = "v" }), stream.ToArray());
    }

    [Fact]
    public void WriteHeaderIsExactlyWhatWritePutsBeforeTheData()
    {
        var p = new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8]);
        var metadata = new Dictionary<string, string> { ["k"] = "v" };
        foreach (var meta in new[] { null, metadata })
        {
            byte[] file = Safetensors.Write(p, meta);
            byte[] header = Safetensors.WriteHeader(Layout, meta);
            Assert.Equal(file.Length - (4 * p.Length), header.Length);
            Assert.Equal(file[..header.Length], header);
        }

        Assert.Throws<ArgumentException>(() => Safetensors.WriteHeader(ParameterLayout.Create((Safetensors.MetadataKey, [1]))));
        Assert.Throws<ArgumentNullException>(() => Safetensors.WriteHeader(null!));
    }

    [Fact]
    public void LayoutFollowsDataOffsetsNotJsonKeyOrder()
    {
        byte[] file = Build(
            "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            F32(1f, 2f));
        var p = Safetensors.Read(file).Parameters;
        Assert.Equal(["a", "b"], p.Layout.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2f], p.AsSpan().ToArray());
    }

    [Fact]
    public void EmptyFileHoldsNoTensors()
    {
        var content = Safetensors.Read(Build("{}"));
        Assert.Equal(0, content.Parameters.Length);
        Assert.Empty(content.Parameters.Layout.Tensors);
    }

    [Fact]
    public void ScalarsAndEmptyTensorsAreRead()
    {
        byte[] file = Build(
            "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}",
            F32(7f));
        var p = Safetensors.Read(file).Parameters;
        Assert.Equal(7f, p.Tensor("s")[0]);
        Assert.Equal(0, p.Tensor("e").Length);
    }

    [Fact]
    public void NaNAndInfinityAreAllowedByTheFormat()
    {
        byte[] file = Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32(float.NaN, float.PositiveInfinity));
        var values = Safetensors.Read(file).Parameters.AsSpan().ToArray();
        Assert.True(float.IsNaN(values[0]));
        Assert.Equal(float.PositiveInfinity, values[1]);
    }

    // ---------- conversions (hand-built bytes) ----------

    [Fact]
    public void F16ConvertsExactly()
    {
        // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal), 0.333251953125, +Inf
        ushort[] halves = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555, 0x7C00];
        var values = ReadOne("F16", [halves.Length], U16(halves));
        Assert.Equal([1f, -2f, 65504f, MathF.Pow(2, -24), 0.333251953125f, float.PositiveInfinity], values);
    }

    [Fact]
    public void BF16ConvertsExactly()
    {
        // 1.0, -3.0, 3.140625, 3.3895314e38 (largest bf16), -0.0
        ushort[] bf = [0x3F80, 0xC040, 0x4049, 0x7F7F, 0x8000];
        var values = ReadOne("BF16", [bf.Length], U16(bf));
        Assert.Equal([1f, -3f, 3.140625f, BitConverter.UInt32BitsToSingle(0x7F7F0000), -0f], values);
        Assert.True(float.IsNegative(values[4]));
    }

    [Fact]
    public void BF16WidensEveryBitPatternOverVectorAndTail()
    {
        // 16 values per vector step plus a tail: every pattern must equal the float whose top 16 bits it is.
        var bits = new ushort[16 * 5 + 7];
        var random = new Confide.Randomness.SeededRandomSource(3);
        for (int i = 0; i < bits.Length; i++)
        {
            bits[i] = unchecked((ushort)random.NextUInt64());
        }

        var values = ReadOne("BF16", [bits.Length], U16(bits));
        for (int i = 0; i < bits.Length; i++)
        {
            Assert.Equal((uint)bits[i] << 16, BitConverter.SingleToUInt32Bits(values[i]));
        }
    }

    [Fact]
    public void F64RoundsToNearestFloat()
    {
        double[] doubles = [0.1, -1.5, 1e-50, 3.4028234663852886e38, double.NegativeInfinity];
        var values = ReadOne("F64", [doubles.Length], F64(doubles));
        Assert.Equal([0.1f, -1.5f, 0f, float.MaxValue, float.NegativeInfinity], values);
    }

    [Fact]
    public void F64OutsideFloatRangeIsAnErrorNotInfinity()
    {
        byte[] file = Build("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", F64(1.0, -1e39));
        Assert.Contains("outside the float32 range", Fails(file), StringComparison.Ordinal);
        Assert.Contains("element 1", Fails(file), StringComparison.Ordinal);
    }

    [Fact]
    public void MixedDtypesReadIntoOneVector()
    {
        byte[] data = [.. F64(2.5), .. F32(1.25f), .. U16(0x3C00), .. U16(0x4000)];
        byte[] file = Build(
            "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
            + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[12,14]},\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[14,16]}}",
            data);
        Assert.Equal([2.5f, 1.25f, 1f, 2f], Safetensors.Read(file).Parameters.AsSpan().ToArray());
        Assert.Equal([2.5f, 1.25f, 1f, 2f], Safetensors.Read(new MemoryStream(file)).Parameters.AsSpan().ToArray());
    }

    // ---------- strict reading against a layout ----------

    [Fact]
    public void StrictReadAcceptsAnotherOrderAndUsesTheExpectedLayout()
    {
        var reordered = ParameterLayout.Create(("fc.bias", [2]), ("fc.weight", [3, 2]));
        var p = new ModelParameters(reordered, [7, 8, 1, 2, 3, 4, 5, 6]);
        var back = Safetensors.Read(Safetensors.Write(p), Layout).Parameters;
        Assert.Equal(Layout, back.Layout);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], back.AsSpan().ToArray());
    }

    [Fact]
    public void StrictReadNamesMissingUnexpectedAndReshapedTensors()
    {
        var other = ParameterLayout.Create(("fc.weight", [2, 3]), ("extra", [1]));
        byte[] file = Safetensors.Write(ModelParameters.Zeros(other));
        var ex = Assert.Throws<InvalidDataException>(() => Safetensors.Read(file, Layout));
        Assert.Contains("missing fc.bias", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected extra", ex.Message, StringComparison.Ordinal);
        Assert.Contains("fc.weight expected [3,2] got [2,3]", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => Safetensors.Read(new MemoryStream(file), Layout));
    }

    // ---------- malformed files: one test per case ----------

    [Fact]
    public void FileShorterThanEightBytes() =>
        Assert.Contains("shorter than the 8-byte header length", Fails([1, 0, 0]), StringComparison.Ordinal);

    [Fact]
    public void HeaderLengthPastTheEnd()
    {
        byte[] file = Build("{}");
        BinaryPrimitives.WriteUInt64LittleEndian(file, 1000);
        Assert.Contains("runs past the end of the file", Fails(file), StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthOver100MB()
    {
        byte[] file = Build("{}");
        BinaryPrimitives.WriteUInt64LittleEndian(file, 100_000_001);
        Assert.Contains("exceeds the 100000000-byte (100 MB) limit", Fails(file), StringComparison.Ordinal);
        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue);
        Assert.Contains("limit", Fails(file), StringComparison.Ordinal);
    }

    [Fact]
    public void BadJson() =>
        Assert.Contains("not valid JSON", Fails(Build("{\"w\":{\"dtype\":")), StringComparison.Ordinal);

    [Fact]
    public void InvalidUtf8InHeader()
    {
        byte[] file = Build("{\"w?\":{}}");
        file[8 + 3] = 0xFF;
        Assert.Contains("not valid JSON", Fails(file), StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderNotAnObject() =>
        Assert.Contains("not a JSON object", Fails(Build("[1,2]")), StringComparison.Ordinal);

    [Fact]
    public void ContentAfterTheHeaderObject() =>
        Assert.Contains("not valid JSON", Fails(Build("{} x")), StringComparison.Ordinal);

    [Fact]
    public void TrailingSpacePaddingIsAccepted() =>
        Assert.Equal([3f], Safetensors.Read(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}      ", F32(3f))).Parameters.AsSpan().ToArray());

    [Theory]
    [InlineData("{\"w\":5}", "entry must be an object")]
    [InlineData("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype must be a string")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", "shape must be an array of integers")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "shape must be an array of integers")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "data_offsets must be an array of two")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "data_offsets must be an array of two")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,4]}}", "data_offsets must be an array of two")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "lacks data_offsets")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", "unknown field \"extra\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "field \"dtype\" twice")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", "must be a string")]
    [InlineData("{\"__metadata__\":[\"k\"]}", "must be an object of strings")]
    [InlineData("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", "key 'k' twice")]
    [InlineData("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "empty name")]
    public void WrongFieldTypesOrStructure(string json, string expected) =>
        Assert.Contains(expected, Fails(Build(json, F32(1f))), StringComparison.Ordinal);

    [Theory]
    [InlineData("I64")]
    [InlineData("F8_E4M3")]
    [InlineData("f32")]
    public void UnknownDtype(string dtype) =>
        Assert.Contains($"dtype \"{dtype}\", which this reader does not support", Fails(Build($"{{\"w\":{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data_offsets\":[0,8]}}}}", new byte[8])), StringComparison.Ordinal);

    [Fact]
    public void OffsetsOutOfBounds() =>
        Assert.Contains("out of bounds: the data buffer holds 4 bytes", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32(1f))), StringComparison.Ordinal);

    [Fact]
    public void HugeOffsetsOutOfBounds() =>
        Assert.Contains("out of bounds", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,18446744073709551615]}}", F32(1f))), StringComparison.Ordinal);

    [Fact]
    public void BeginAfterEnd() =>
        Assert.Contains("begin is after end", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", F32(1f, 2f))), StringComparison.Ordinal);

    [Fact]
    public void OverlappingTensors() =>
        Assert.Contains("overlaps tensor 'a'", Fails(Build(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            F32(1f, 2f, 3f))), StringComparison.Ordinal);

    [Fact]
    public void HoleBetweenTensors() =>
        Assert.Contains("hole: bytes 4..8 before tensor 'b'", Fails(Build(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
            F32(1f, 2f, 3f))), StringComparison.Ordinal);

    [Fact]
    public void TrailingBytesAfterTheLastTensor() =>
        Assert.Contains("4 bytes after the last tensor", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", F32(1f, 2f))), StringComparison.Ordinal);

    [Fact]
    public void UnalignedOffsets() =>
        Assert.Contains("starts at byte 2, which is not a multiple of its F32 element size 4", Fails(Build(
            "{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
            new byte[6])), StringComparison.Ordinal);

    [Fact]
    public void ShapeTimesDtypeSizeDiffersFromTheByteRange() =>
        Assert.Contains("needs 12 bytes, but data_offsets [0,8] span 8", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", F32(1f, 2f))), StringComparison.Ordinal);

    [Fact]
    public void NegativeShape() =>
        Assert.Contains("negative dimension -2", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", F32(1f, 2f))), StringComparison.Ordinal);

    [Fact]
    public void OverflowingShape()
    {
        Assert.Contains("more than", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536,65536],\"data_offsets\":[0,4]}}", F32(1f))), StringComparison.Ordinal);
        Assert.Contains("larger than 2147483647", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296],\"data_offsets\":[0,4]}}", F32(1f))), StringComparison.Ordinal);
        Assert.Contains("shape must be an array of integers", Fails(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e30],\"data_offsets\":[0,4]}}", F32(1f))), StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateTensorNames() =>
        Assert.Contains("names tensor 'w' twice", Fails(Build(
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            F32(1f, 2f))), StringComparison.Ordinal);

    [Fact]
    public void DuplicateMetadataKey() =>
        Assert.Contains("\"__metadata__\" twice", Fails(Build("{\"__metadata__\":{},\"__metadata__\":{}}")), StringComparison.Ordinal);

    [Fact]
    public void TruncatedNonSeekableStream()
    {
        byte[] file = Safetensors.Write(new ModelParameters(Layout, new float[8]));
        var ex = Assert.Throws<InvalidDataException>(() => Safetensors.Read(new NonSeekableStream(file[..^4])));
        Assert.Contains("out of bounds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriterRefusesTheReservedName()
    {
        var p = ModelParameters.Zeros(ParameterLayout.Create(("__metadata__", [1])));
        Assert.Throws<ArgumentException>(() => Safetensors.Write(p));
    }

    [Fact]
    public void StreamReadingCrossesChunkBoundaries()
    {
        // 600,000 floats (2.4 MB) span several 1 MB read chunks.
        var layout = ParameterLayout.Create(("small", [3]), ("big", [600, 1000]), ("tail", [5]));
        var values = new float[layout.TotalLength];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = i * 0.5f;
        }

        var p = new ModelParameters(layout, values);
        AssertSameBits(p, Safetensors.Read(new MemoryStream(Safetensors.Write(p))).Parameters);
    }

    [Fact]
    public void F64ErrorIndexIsCountedAcrossChunks()
    {
        var doubles = new double[300_000];
        doubles[200_000] = 1e300;
        byte[] file = Build($"{{\"w\":{{\"dtype\":\"F64\",\"shape\":[{doubles.Length}],\"data_offsets\":[0,{8 * doubles.Length}]}}}}", F64(doubles));
        Assert.Contains("element 200000 ", Fails(file), StringComparison.Ordinal);
    }

    [Fact]
    public void LyingLengthsAllocateNothingLarge()
    {
        // A 99 MB header claim in a 20-byte file, and a 4-GB tensor claim over 4 bytes of data: both must fail
        // on the checks, before anything of the claimed size is allocated.
        byte[] header = Build("{}");
        BinaryPrimitives.WriteUInt64LittleEndian(header, 99_000_000);
        byte[] tensor = Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1073741824],\"data_offsets\":[0,4294967296]}}", F32(1f));
        foreach (byte[] file in new[] { header, tensor })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<InvalidDataException>(() => Safetensors.Read(new MemoryStream(file)));
            Assert.Throws<InvalidDataException>(() => Safetensors.Read(new NonSeekableStream(file)));
            Assert.Throws<InvalidDataException>(() => Safetensors.Read(file));
            Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 1 << 20);
        }
    }

    // ---------- helpers ----------

    /// <summary>Reads through every path (span, seekable stream, non-seekable stream); each must fail the same way.</summary>
    private static string Fails(byte[] file)
    {
        var fromSpan = Assert.Throws<InvalidDataException>(() => Safetensors.Read(file));
        var fromStream = Assert.Throws<InvalidDataException>(() => Safetensors.Read(new MemoryStream(file)));
        var fromPipe = Assert.Throws<InvalidDataException>(() => Safetensors.Read(new NonSeekableStream(file)));
        Assert.Equal(fromSpan.Message, fromStream.Message);
        Assert.Equal(fromSpan.Message, fromPipe.Message);
        return fromSpan.Message;
    }

    private static float[] ReadOne(string dtype, int[] shape, byte[] data)
    {
        byte[] file = Build($"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(',', shape)}],\"data_offsets\":[0,{data.Length}]}}}}", data);
        var fromSpan = Safetensors.Read(file).Parameters.AsSpan().ToArray();
        Assert.Equal(fromSpan, Safetensors.Read(new MemoryStream(file)).Parameters.AsSpan().ToArray());
        return fromSpan;
    }

    private static byte[] Build(string json, params byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    private static byte[] F32(params float[] values)
    {
        var bytes = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        }

        return bytes;
    }

    private static byte[] F64(params double[] values)
    {
        var bytes = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        }

        return bytes;
    }

    private static byte[] U16(params ushort[] values)
    {
        var bytes = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), values[i]);
        }

        return bytes;
    }

    [Fact]
    public void ReadIntoOverwritesEveryElementOfTheGivenArrayAndWrapsIt()
    {
        var p = new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8]);
        byte[] file = Safetensors.Write(p);
        var destination = Enumerable.Repeat(float.NaN, Layout.TotalLength).ToArray();
        var read = Safetensors.ReadInto(file, Layout, destination).Parameters;
        AssertSameBits(p, read);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], destination);
        read.AsSpan()[0] = 42;
        Assert.Equal(42, destination[0]);
    }

    [Fact]
    public void ReadIntoRefusesADestinationOfTheWrongLengthAndAFileOfAnotherLayout()
    {
        byte[] file = Safetensors.Write(new ModelParameters(Layout, [1, 2, 3, 4, 5, 6, 7, 8]));
        var ex = Assert.Throws<ArgumentException>(() => Safetensors.ReadInto(file, Layout, new float[7]));
        Assert.Contains("needs exactly 8", ex.Message, StringComparison.Ordinal);

        var other = ParameterLayout.Create(("fc.weight", [2, 3]), ("fc.bias", [2]));
        var mismatch = Assert.Throws<InvalidDataException>(() => Safetensors.ReadInto(file, other, new float[8]));
        Assert.Contains("expected layout", mismatch.Message, StringComparison.Ordinal);
    }

    private static void AssertSameBits(ModelParameters expected, ModelParameters actual)
    {
        Assert.Equal(expected.Layout, actual.Layout);
        Assert.Equal(
            expected.AsSpan().ToArray().Select(BitConverter.SingleToUInt32Bits),
            actual.AsSpan().ToArray().Select(BitConverter.SingleToUInt32Bits));
    }

    /// <summary>A read-only stream that cannot seek, like a pipe or a network stream.</summary>
    private sealed class NonSeekableStream(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 3));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
