namespace Confide.Privacy;

/// <summary>The result of clipping one update: its L2 norm before clipping and the factor it was scaled by (1 when not clipped).</summary>
/// <param name="PreClipNorm">The update's L2 norm before clipping.</param>
/// <param name="Scale">The factor applied, in (0, 1].</param>
public readonly record struct ClipReport(double PreClipNorm, double Scale)
{
    /// <summary>Whether the update was scaled down.</summary>
    public bool Clipped => Scale < 1;
}
