namespace Confide.Parameters.Internal;

/// <summary>The safetensors element types this reader converts to float32.</summary>
internal enum SafetensorsDType
{
    F32,
    F16,
    BF16,
    F64,
}
