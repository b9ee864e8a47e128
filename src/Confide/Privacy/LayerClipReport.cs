namespace Confide.Privacy;

/// <summary>The result of per-layer clipping.</summary>
/// <param name="PreClipNorm">The whole update's L2 norm before clipping.</param>
/// <param name="LayerPreClipNorms">Each tensor's L2 norm before clipping, in layout order.</param>
/// <param name="LayerClipNorms">Each tensor's bound, in layout order.</param>
/// <param name="TotalClipNorm">√(Σ Cₗ²): the bound on the clipped update's whole norm, i.e. its L2 sensitivity.</param>
public sealed record LayerClipReport(double PreClipNorm, IReadOnlyList<double> LayerPreClipNorms, IReadOnlyList<double> LayerClipNorms, double TotalClipNorm);
