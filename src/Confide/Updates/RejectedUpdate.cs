namespace Confide.Updates;

/// <summary>An update that <see cref="UpdateValidator"/> refused, and why.</summary>
/// <param name="ClientId">The sender's id.</param>
/// <param name="Reason">What was wrong, in words (for example "tensor 'fc.weight' element 3 is NaN").</param>
/// <param name="Index">The update's position in the batch.</param>
public sealed record RejectedUpdate(string ClientId, string Reason, int Index);
