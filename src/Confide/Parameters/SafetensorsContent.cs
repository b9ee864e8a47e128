namespace Confide.Parameters;

/// <summary>What a safetensors file holds: the tensors as <see cref="ModelParameters"/> and the free-form string metadata.</summary>
/// <param name="Parameters">The tensors, converted to float32.</param>
/// <param name="Metadata">The <c>__metadata__</c> map; empty when the file has none.</param>
public sealed record SafetensorsContent(ModelParameters Parameters, IReadOnlyDictionary<string, string> Metadata);
