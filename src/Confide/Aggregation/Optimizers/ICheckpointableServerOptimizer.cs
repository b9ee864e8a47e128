namespace Confide.Aggregation.Optimizers;

/// <summary>
/// A server optimiser whose state can be saved and restored, so that a restarted server continues exactly as if it
/// had not stopped (same model, bit for bit). Every optimiser of this folder implements it.
/// </summary>
public interface ICheckpointableServerOptimizer : IServerOptimizer
{
    /// <summary>A copy of the current state.</summary>
    ServerOptimizerState ExportState();

    /// <summary>Replaces the state with a copy of <paramref name="state"/>.</summary>
    /// <exception cref="ArgumentException">The state belongs to another optimiser or lacks a vector it needs.</exception>
    void ImportState(ServerOptimizerState state);
}
