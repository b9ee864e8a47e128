namespace Confide.Training.Data;

/// <summary>
/// The three disjoint parts of a federated experiment: the pool the clients' partitions are drawn from, a held-out
/// test set for global evaluation, and a small clean root set held by the server (FLTrust's, Cao et al. 2021).
/// </summary>
/// <param name="Clients">The samples to partition among clients.</param>
/// <param name="Test">The held-out test set.</param>
/// <param name="Root">The server's root set (may be empty).</param>
public sealed record FederatedDataset(Dataset Clients, Dataset Test, Dataset Root);
