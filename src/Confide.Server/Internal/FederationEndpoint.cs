using Microsoft.Extensions.DependencyInjection;

namespace Confide.Server.Internal;

/// <summary>
/// The service type gRPC routes confide.v1.Federation to. It carries no <c>BindServiceMethod</c> attribute, so
/// grpc-dotnet's default binder ignores it and only <see cref="ParsingMethodProvider"/> binds its methods (with request
/// marshallers that answer a malformed body with INVALID_ARGUMENT). Each call gets a fresh <see cref="FederationService"/>.
/// </summary>
internal sealed class FederationEndpoint(IServiceProvider services)
{
    /// <summary>The service that handles the call.</summary>
    public FederationService Service { get; } = ActivatorUtilities.CreateInstance<FederationService>(services);
}
