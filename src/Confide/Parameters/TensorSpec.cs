namespace Confide.Parameters;

/// <summary>One named tensor inside a <see cref="ParameterLayout"/>: its shape and where it sits in the flat vector.</summary>
public sealed class TensorSpec : IEquatable<TensorSpec>
{
    private readonly int[] _shape;

    internal TensorSpec(string name, int[] shape, int offset, int length)
    {
        Name = name;
        _shape = shape;
        Offset = offset;
        Length = length;
    }

    /// <summary>The tensor's name, as in a PyTorch state_dict.</summary>
    public string Name { get; }

    /// <summary>The shape; empty for a scalar.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The first element's index in the flat vector.</summary>
    public int Offset { get; }

    /// <summary>The number of elements (the product of the shape).</summary>
    public int Length { get; }

    /// <summary>The shape as a copy, for callers that keep it.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <inheritdoc/>
    public bool Equals(TensorSpec? other) =>
        other is not null && Name == other.Name && Offset == other.Offset && _shape.AsSpan().SequenceEqual(other._shape);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TensorSpec);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Offset, Length);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}[{string.Join(',', _shape)}]";
}
