using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Confide.Parameters.Internal;

/// <summary>Converts little-endian safetensors element bytes to float32.</summary>
internal static class SafetensorsConverter
{
    /// <summary>
    /// Converts <paramref name="source"/> (a whole number of elements of <paramref name="dtype"/>) into <paramref name="destination"/>.
    /// F16, BF16 and F32 widen exactly. F64 rounds to nearest; a finite F64 beyond float range is an error rather than an infinity.
    /// NaN and infinities pass through unchanged, since the format allows them (the update validator rejects them).
    /// </summary>
    /// The element index in messages is <paramref name="firstIndex"/> (where this chunk starts inside its tensor) plus the offset in the chunk.
    public static void Convert(ReadOnlySpan<byte> source, SafetensorsDType dtype, Span<float> destination, string tensorName, long firstIndex)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                if (BitConverter.IsLittleEndian)
                {
                    source.CopyTo(MemoryMarshal.AsBytes(destination));
                }
                else
                {
                    for (int i = 0; i < destination.Length; i++)
                    {
                        destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                    }
                }

                break;
            case SafetensorsDType.F16:
                if (BitConverter.IsLittleEndian)
                {
                    TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                }
                else
                {
                    for (int i = 0; i < destination.Length; i++)
                    {
                        destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
                    }
                }

                break;
            case SafetensorsDType.BF16:
                WidenBFloat16(source, destination);
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < destination.Length; i++)
                {
                    double value = BinaryPrimitives.ReadDoubleLittleEndian(source[(8 * i)..]);
                    float single = (float)value;
                    if (float.IsInfinity(single) && double.IsFinite(value))
                    {
                        throw new InvalidDataException(
                            $"Tensor '{tensorName}' element {firstIndex + i} is the F64 value {value:R}, outside the float32 range (±{float.MaxValue:R}).");
                    }

                    destination[i] = single;
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    /// <summary>bfloat16 is the top half of a float32, so widening is a zero-extension and a 16-bit shift.</summary>
    private static void WidenBFloat16(ReadOnlySpan<byte> source, Span<float> destination)
    {
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (BitConverter.IsLittleEndian && Vector256.IsHardwareAccelerated)
        {
            ReadOnlySpan<ushort> halves = MemoryMarshal.Cast<byte, ushort>(source);
            for (; i <= halves.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.Create(halves.Slice(i, Vector256<ushort>.Count)));
                (lower << 16).CopyTo(bits[i..]);
                (upper << 16).CopyTo(bits[(i + Vector256<uint>.Count)..]);
            }
        }

        for (; i < bits.Length; i++)
        {
            bits[i] = (uint)BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16;
        }
    }
}
