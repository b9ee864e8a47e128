namespace Confide.Protocol.SecureAggregation;

/// <summary>One Shamir share of a secret belonging to <paramref name="Owner"/>, revealed by the share holder in Unmasking.</summary>
public sealed record RevealedShare(int Owner, byte[] Share);
