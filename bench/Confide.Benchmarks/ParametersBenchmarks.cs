using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using Confide.Parameters;
using Confide.Randomness;
using Confide.Updates;

namespace Confide.Benchmarks;

/// <summary>Safetensors I/O and update validation on a 1,000,000-parameter model (4 MB of float32).</summary>
[MemoryDiagnoser]
public class ParametersBenchmarks
{
    private static readonly ParameterLayout Layout = ParameterLayout.Create(
        ("conv.weight", [64, 3, 5, 5]), ("conv.bias", [64]), ("fc.weight", [995, 1000]), ("fc.bias", [136]));

    private ModelParameters _parameters = null!;
    private byte[] _f32File = null!;
    private byte[] _f16File = null!;
    private UpdateValidator _validator = null!;
    private ClientUpdate _update = null!;

    [GlobalSetup]
    public void Setup()
    {
        IRandomSource random = new SeededRandomSource(7);
        var values = new float[Layout.TotalLength];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() - 0.5);
        }

        _parameters = new ModelParameters(Layout, values);
        _f32File = Safetensors.Write(_parameters);
        _f16File = BuildF16(values);
        _validator = new UpdateValidator(new UpdateValidationOptions(Layout, MaxNorm: 1e6));
        _update = new ClientUpdate("c", _parameters, 100);
    }

    [Benchmark]
    public byte[] WriteF32() => Safetensors.Write(_parameters);

    [Benchmark]
    public SafetensorsContent ReadF32Span() => Safetensors.Read(_f32File);

    [Benchmark]
    public SafetensorsContent ReadF32Stream() => Safetensors.Read(new MemoryStream(_f32File, writable: false));

    [Benchmark]
    public SafetensorsContent ReadF16Span() => Safetensors.Read(_f16File);

    [Benchmark]
    public string? ValidateUpdate() => _validator.Check(_update);

    /// <summary>The scalar loop the vectorised finiteness check replaces, for comparison.</summary>
    [Benchmark]
    public bool ScalarFiniteLoop()
    {
        foreach (float v in _parameters.AsSpan())
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] BuildF16(float[] values)
    {
        var json = new StringBuilder("{");
        long offset = 0;
        foreach (var spec in Layout.Tensors)
        {
            json.Append($"\"{spec.Name}\":{{\"dtype\":\"F16\",\"shape\":[{string.Join(',', spec.ShapeArray())}],\"data_offsets\":[{offset},{offset + (2L * spec.Length)}]}},");
            offset += 2L * spec.Length;
        }

        json.Length--;
        json.Append('}');
        byte[] header = Encoding.UTF8.GetBytes(json.ToString());
        var file = new byte[8 + header.Length + (2 * values.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(file.AsSpan(8 + header.Length + (2 * i)), (Half)values[i]);
        }

        return file;
    }
}
