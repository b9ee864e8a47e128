namespace Confide.Parameters.Internal;

/// <summary>One tensor of a parsed safetensors header, already checked against the data buffer.</summary>
internal sealed record SafetensorsEntry(string Name, SafetensorsDType DType, int[] Shape, long ElementCount, long Begin, long End)
{
    public static int SizeOf(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => 4,
        SafetensorsDType.F16 => 2,
        SafetensorsDType.BF16 => 2,
        SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}
