using System.Net;
using System.Net.Sockets;

namespace Confide.Testing;

/// <summary>Ports for test servers that must be told their port before they start.</summary>
public static class LoopbackPort
{
    /// <summary>A port on 127.0.0.1 that was free a moment ago (the OS picked it and the listener let it go).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
