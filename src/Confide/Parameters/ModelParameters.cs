namespace Confide.Parameters;

/// <summary>
/// A model's weights (or an update to them): an ordered set of named tensors over one contiguous
/// <c>float[]</c>, so aggregation kernels see one flat vector while users see named tensors.
/// </summary>
public sealed class ModelParameters
{
    private readonly float[] _values;

    /// <summary>Wraps <paramref name="values"/> (not copied) under <paramref name="layout"/>.</summary>
    /// <exception cref="ArgumentException">The vector's length differs from the layout's.</exception>
    public ModelParameters(ParameterLayout layout, float[] values)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != layout.TotalLength)
        {
            throw new ArgumentException($"The layout holds {layout.TotalLength} values but the vector has {values.Length}.", nameof(values));
        }

        Layout = layout;
        _values = values;
    }

    /// <summary>The names and shapes.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>The number of values.</summary>
    public int Length => _values.Length;

    /// <summary>All zeros under <paramref name="layout"/>.</summary>
    public static ModelParameters Zeros(ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new ModelParameters(layout, new float[layout.TotalLength]);
    }

    /// <summary>The whole flat vector.</summary>
    public Span<float> AsSpan() => _values;

    /// <summary>The whole flat vector as memory, for kernels that run in parallel.</summary>
    public Memory<float> AsMemory() => _values;

    /// <summary>The flat values of the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public Span<float> Tensor(string name)
    {
        var spec = Layout[name];
        return _values.AsSpan(spec.Offset, spec.Length);
    }

    /// <summary>The flat values of <paramref name="spec"/>, which must belong to this layout.</summary>
    public Span<float> Tensor(TensorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _values.AsSpan(spec.Offset, spec.Length);
    }

    /// <summary>A deep copy.</summary>
    public ModelParameters Clone() => new(Layout, (float[])_values.Clone());

    /// <summary>A state_dict-like dictionary: name → (shape, values), each a copy.</summary>
    public Dictionary<string, (int[] Shape, float[] Values)> ToDictionary()
    {
        var result = new Dictionary<string, (int[], float[])>(Layout.Tensors.Count, StringComparer.Ordinal);
        foreach (var spec in Layout.Tensors)
        {
            result.Add(spec.Name, (spec.ShapeArray(), _values.AsSpan(spec.Offset, spec.Length).ToArray()));
        }

        return result;
    }

    /// <summary>
    /// Builds parameters under <paramref name="layout"/> from a name → (shape, values) dictionary, strictly:
    /// every tensor of the layout must be present with its shape, and no other name may appear.
    /// </summary>
    /// <exception cref="ArgumentException">Names are missing or unexpected, or a shape or length differs; the message lists them all.</exception>
    public static ModelParameters FromDictionary(ParameterLayout layout, IReadOnlyDictionary<string, (int[] Shape, float[] Values)> tensors)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(tensors);
        var problems = new List<string>();
        var missing = layout.Tensors.Where(t => !tensors.ContainsKey(t.Name)).Select(t => t.Name).ToList();
        var unexpected = tensors.Keys.Where(k => !layout.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            problems.Add($"missing tensors: {string.Join(", ", missing)}");
        }

        if (unexpected.Count > 0)
        {
            problems.Add($"unexpected tensors: {string.Join(", ", unexpected)}");
        }

        var values = new float[layout.TotalLength];
        foreach (var spec in layout.Tensors)
        {
            if (!tensors.TryGetValue(spec.Name, out var entry))
            {
                continue;
            }

            if (entry.Shape is null || !spec.Shape.SequenceEqual(entry.Shape))
            {
                problems.Add($"tensor '{spec.Name}' has shape [{string.Join(',', entry.Shape ?? [])}], expected [{string.Join(',', spec.ShapeArray())}]");
                continue;
            }

            if (entry.Values is null || entry.Values.Length != spec.Length)
            {
                problems.Add($"tensor '{spec.Name}' has {entry.Values?.Length ?? 0} values, expected {spec.Length}");
                continue;
            }

            entry.Values.CopyTo(values, spec.Offset);
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException($"The tensors do not match the layout: {string.Join("; ", problems)}.", nameof(tensors));
        }

        return new ModelParameters(layout, values);
    }

    /// <summary>
    /// Builds parameters from a dictionary in its own order, taking the layout from it.
    /// </summary>
    public static ModelParameters FromDictionary(IEnumerable<KeyValuePair<string, (int[] Shape, float[] Values)>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var layout = ParameterLayout.Create(list.Select(kv => (kv.Key, kv.Value.Shape)));
        return FromDictionary(layout, list.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
    }

    /// <inheritdoc/>
    public override string ToString() => $"ModelParameters({Layout})";
}
