namespace Confide.Privacy;

/// <summary>
/// An (ε, δ) guarantee with the Rényi order that gave the smallest ε. When nothing has been released
/// (all RDP values are zero), ε is 0 and <see cref="Order"/> is NaN: no order is involved.
/// </summary>
/// <param name="Epsilon">The ε of the (ε, δ)-DP guarantee.</param>
/// <param name="Delta">The δ it was computed for.</param>
/// <param name="Order">The Rényi order α that minimised ε, or NaN when ε is 0 because nothing was released.</param>
public readonly record struct PrivacySpent(double Epsilon, double Delta, double Order);
