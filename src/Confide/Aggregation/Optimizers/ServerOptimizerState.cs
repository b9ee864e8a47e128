using System.Collections.ObjectModel;

namespace Confide.Aggregation.Optimizers;

/// <summary>
/// A snapshot of a server optimiser's state (momentum, second moments) as named float32 vectors of the model's length,
/// so a server can checkpoint it with each round and restore it after a restart. Empty before the first step.
/// Validated where built: every vector has the same length and holds finite values.
/// </summary>
public sealed class ServerOptimizerState
{
    /// <summary>Creates a snapshot; the vectors are copied.</summary>
    /// <param name="optimizer">The optimiser's <see cref="IServerOptimizer.Name"/>.</param>
    /// <param name="vectors">The state vectors by name (none before the first step).</param>
    public ServerOptimizerState(string optimizer, IReadOnlyDictionary<string, float[]> vectors)
    {
        ArgumentException.ThrowIfNullOrEmpty(optimizer);
        ArgumentNullException.ThrowIfNull(vectors);
        var copy = new SortedDictionary<string, float[]>(StringComparer.Ordinal);
        int length = -1;
        foreach (var (name, values) in vectors)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            ArgumentNullException.ThrowIfNull(values);
            if (length >= 0 && values.Length != length)
            {
                throw new ArgumentException($"{optimizer} state: vector '{name}' has {values.Length} values, another has {length}; expected one length.", nameof(vectors));
            }

            length = values.Length;
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
            {
                throw new ArgumentException($"{optimizer} state: vector '{name}' holds the non-finite value {values[bad]} at index {bad}.", nameof(vectors));
            }

            copy.Add(name, (float[])values.Clone());
        }

        Optimizer = optimizer;
        Vectors = new ReadOnlyDictionary<string, float[]>(copy);
        Length = Math.Max(length, 0);
    }

    /// <summary>The optimiser's name.</summary>
    public string Optimizer { get; }

    /// <summary>The state vectors by name, in ordinal order (empty before the first step). Do not modify the arrays.</summary>
    public IReadOnlyDictionary<string, float[]> Vectors { get; }

    /// <summary>The length of every vector (0 when there are none).</summary>
    public int Length { get; }

    /// <summary>The empty state of <paramref name="optimizer"/> (before its first step, or a stateless optimiser).</summary>
    public static ServerOptimizerState Empty(string optimizer) => new(optimizer, new Dictionary<string, float[]>());

    /// <summary>
    /// Checks that this state belongs to <paramref name="optimizer"/> and holds exactly <paramref name="names"/> (or
    /// nothing), and returns the vectors in the order of <paramref name="names"/> (null when empty).
    /// </summary>
    internal float[][]? Expect(string optimizer, params string[] names)
    {
        if (Optimizer != optimizer)
        {
            throw new ArgumentException($"The state was saved by optimiser '{Optimizer}', not '{optimizer}'; use the optimiser the run was started with.", "state");
        }

        if (Vectors.Count == 0)
        {
            return null;
        }

        if (Vectors.Count != names.Length || names.Any(n => !Vectors.ContainsKey(n)))
        {
            throw new ArgumentException(
                $"{optimizer} state holds [{string.Join(", ", Vectors.Keys)}]; expected [{string.Join(", ", names)}].", "state");
        }

        return [.. names.Select(n => (float[])Vectors[n].Clone())];
    }
}
