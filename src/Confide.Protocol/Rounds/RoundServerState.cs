using Confide.Aggregation.Optimizers;

namespace Confide.Protocol.Rounds;

/// <summary>
/// What a <see cref="RoundCoordinator"/> carries from one round to the next besides the model and the ledger: the
/// server optimiser's state and, with adaptive clipping, the clip norm of the next round. A host saves it with each
/// completed round and hands it back through <see cref="RoundCoordinator.RestoreServerState"/> after a restart.
/// </summary>
/// <param name="Optimizer">The server optimiser's state.</param>
/// <param name="ClipNorm">The adaptive clip norm for the next round, or null without adaptive clipping.</param>
public sealed record RoundServerState(ServerOptimizerState Optimizer, double? ClipNorm);
