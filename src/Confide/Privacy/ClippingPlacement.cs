namespace Confide.Privacy;

/// <summary>Where DP-FedAvg clips updates (as in Flower's server-side and client-side DP wrappers).</summary>
public enum ClippingPlacement
{
    /// <summary>The server receives raw updates, clips each, sums and adds noise. It must be trusted with raw updates.</summary>
    Server,

    /// <summary>Each client clips its own update (<see cref="DpFedAvg.ClipOnClient(Span{float}, double)"/>); the server only sums and adds noise.</summary>
    Client,
}
