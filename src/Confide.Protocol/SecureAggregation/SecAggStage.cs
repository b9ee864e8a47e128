namespace Confide.Protocol.SecureAggregation;

/// <summary>
/// The stages of one secure-aggregation round (Bonawitz et al. 2017, "Practical Secure Aggregation for
/// Privacy-Preserving Machine Learning", CCS, Figure 4), plus the two terminal states.
/// </summary>
/// <remarks>
/// Both state machines move strictly forward along <see cref="SecAggStages.Next"/>; a message that belongs to any
/// other stage is rejected with <see cref="SecAggOutOfOrderException"/> and leaves the state untouched.
/// </remarks>
public enum SecAggStage
{
    /// <summary>Round 0: each client advertises two X25519 public keys signed with its Ed25519 identity key.</summary>
    AdvertiseKeys = 0,

    /// <summary>Round 1: each client Shamir-shares its self-mask seed and mask private key among its neighbours.</summary>
    ShareKeys = 1,

    /// <summary>Round 2: each client sends its double-masked input.</summary>
    MaskedInputCollection = 2,

    /// <summary>Round 3: every client signs the survivor list the server announces.</summary>
    ConsistencyCheck = 3,

    /// <summary>Round 4: clients reveal the shares the server needs to remove the masks.</summary>
    Unmasking = 4,

    /// <summary>The round finished and (on the server) the sum is available.</summary>
    Completed = 5,

    /// <summary>The round was abandoned; no further message is accepted.</summary>
    Aborted = 6,
}
