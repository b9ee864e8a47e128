using System.Security.Cryptography;
using System.Text;

namespace Confide.Parameters;

/// <summary>
/// The ordered names and shapes of a model's tensors, laid end to end in one flat vector.
/// Two layouts are equal when their names, shapes and order are equal; <see cref="Fingerprint"/> is a
/// SHA-256 over exactly that, so peers can compare layouts without sending them.
/// </summary>
public sealed class ParameterLayout : IEquatable<ParameterLayout>
{
    private readonly TensorSpec[] _tensors;
    private readonly Dictionary<string, int> _index;

    private ParameterLayout(TensorSpec[] tensors, int totalLength, byte[] fingerprint)
    {
        _tensors = tensors;
        TotalLength = totalLength;
        Fingerprint = fingerprint;
        _index = new Dictionary<string, int>(tensors.Length, StringComparer.Ordinal);
        for (int i = 0; i < tensors.Length; i++)
        {
            _index.Add(tensors[i].Name, i);
        }
    }

    /// <summary>The tensors in order.</summary>
    public IReadOnlyList<TensorSpec> Tensors => _tensors;

    /// <summary>The length of the flat vector.</summary>
    public int TotalLength { get; }

    /// <summary>SHA-256 over the names and shapes in order (32 bytes).</summary>
    public ReadOnlyMemory<byte> Fingerprint { get; }

    /// <summary>The fingerprint as lowercase hex, for messages and logs.</summary>
    public string FingerprintHex => Convert.ToHexStringLower(Fingerprint.Span);

    /// <summary>
    /// Builds a layout from (name, shape) pairs in order.
    /// </summary>
    /// <exception cref="ArgumentException">A name is empty or repeated, a dimension is negative, or the total exceeds <see cref="Array.MaxLength"/>.</exception>
    public static ParameterLayout Create(IEnumerable<(string Name, int[] Shape)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var specs = new List<TensorSpec>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> buffer = stackalloc byte[4];
        foreach (var (name, shape) in tensors)
        {
            if (string.IsNullOrEmpty(name))
            {
                throw new ArgumentException("A tensor name is empty.", nameof(tensors));
            }

            ArgumentNullException.ThrowIfNull(shape);
            if (!seen.Add(name))
            {
                throw new ArgumentException($"The tensor name '{name}' appears twice.", nameof(tensors));
            }

            long length = 1;
            foreach (int dim in shape)
            {
                if (dim < 0)
                {
                    throw new ArgumentException($"Tensor '{name}' has a negative dimension {dim}.", nameof(tensors));
                }

                length *= dim;
                if (length > Array.MaxLength)
                {
                    throw new ArgumentException($"Tensor '{name}' has more than {Array.MaxLength} elements.", nameof(tensors));
                }
            }

            if (offset + length > Array.MaxLength)
            {
                throw new ArgumentException($"The layout has more than {Array.MaxLength} elements in all.", nameof(tensors));
            }

            specs.Add(new TensorSpec(name, (int[])shape.Clone(), (int)offset, (int)length));
            offset += length;

            // Length-prefixed name and shape, so that no two different layouts hash the same bytes.
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer, nameBytes.Length);
            hash.AppendData(buffer);
            hash.AppendData(nameBytes);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer, shape.Length);
            hash.AppendData(buffer);
            foreach (int dim in shape)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer, dim);
                hash.AppendData(buffer);
            }
        }

        return new ParameterLayout([.. specs], (int)offset, hash.GetHashAndReset());
    }

    /// <summary>Builds a layout from (name, shape) pairs in order.</summary>
    public static ParameterLayout Create(params (string Name, int[] Shape)[] tensors) => Create((IEnumerable<(string, int[])>)tensors);

    /// <summary>Whether a tensor of that name exists.</summary>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>The tensor of that name.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public TensorSpec this[string name] =>
        _index.TryGetValue(name, out int i) ? _tensors[i] : throw new KeyNotFoundException($"The layout has no tensor named '{name}'.");

    /// <inheritdoc/>
    public bool Equals(ParameterLayout? other) =>
        other is not null && (ReferenceEquals(this, other) || Fingerprint.Span.SequenceEqual(other.Fingerprint.Span));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ParameterLayout);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(Fingerprint.Span);

    /// <summary>A short description: the tensor count, the total length and the fingerprint's prefix.</summary>
    public override string ToString() => $"{_tensors.Length} tensors, {TotalLength} values, fingerprint {FingerprintHex[..16]}";

    /// <summary>
    /// Explains how <paramref name="other"/> differs from this layout (missing, unexpected and reshaped tensors),
    /// or returns null when they are equal.
    /// </summary>
    public string? DescribeDifference(ParameterLayout other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Equals(other))
        {
            return null;
        }

        var missing = _tensors.Where(t => !other.Contains(t.Name)).Select(t => t.Name).ToList();
        var unexpected = other._tensors.Where(t => !Contains(t.Name)).Select(t => t.Name).ToList();
        var reshaped = _tensors.Where(t => other.Contains(t.Name) && !t.Shape.SequenceEqual(other[t.Name].Shape))
            .Select(t => $"{t.Name} expected [{string.Join(',', t.ShapeArray())}] got [{string.Join(',', other[t.Name].ShapeArray())}]")
            .ToList();
        var parts = new List<string>();
        if (missing.Count > 0)
        {
            parts.Add($"missing {string.Join(", ", missing)}");
        }

        if (unexpected.Count > 0)
        {
            parts.Add($"unexpected {string.Join(", ", unexpected)}");
        }

        if (reshaped.Count > 0)
        {
            parts.Add($"shape mismatch: {string.Join("; ", reshaped)}");
        }

        if (parts.Count == 0)
        {
            parts.Add("same tensors in a different order");
        }

        return string.Join("; ", parts);
    }
}
