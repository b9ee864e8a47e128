using System.Reflection;
using Confide.Wire.V1;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Confide.Server.Internal;

/// <summary>
/// Binds every method of confide.v1.Federation (as the generated <c>Federation.BindService</c> lists them) to
/// <see cref="FederationService"/>, with the request marshaller wrapped so that a body that is not valid protobuf is
/// answered with INVALID_ARGUMENT and a message naming the method and the expected message type.
/// </summary>
/// <remarks>
/// grpc-dotnet decodes a unary request before any service code or interceptor runs, and reports a deserializer
/// exception as UNKNOWN ("Exception was thrown by handler"); an <see cref="RpcException"/> thrown by the deserializer
/// keeps its status instead. Streamed messages go through the same deserializer when the service reads them.
/// </remarks>
internal sealed class ParsingMethodProvider : IServiceMethodProvider<FederationEndpoint>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<FederationEndpoint> context) =>
        Federation.BindService(new Binder(context), null);

    /// <summary>The request marshaller of <paramref name="method"/> with parse failures turned into INVALID_ARGUMENT.</summary>
    internal static Marshaller<T> Parsing<T>(Marshaller<T> inner, string method) =>
        Marshallers.Create(inner.ContextualSerializer, context =>
        {
            try
            {
                return inner.ContextualDeserializer(context);
            }
            catch (InvalidProtocolBufferException ex)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument,
                    $"malformed protobuf: the request body of {method} could not be parsed as a {typeof(T).Name} message ({ex.Message})"));
            }
        });

    private static Method<TRequest, TResponse> Wrap<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class =>
        new(method.Type, method.ServiceName, method.Name, Parsing(RequestMarshaller(method), method.Name), method.ResponseMarshaller);

    /// <summary>The generated request marshaller, except for SubmitUpdate, whose chunks go straight into the update's buffer (<see cref="UploadSink"/>).</summary>
    private static Marshaller<TRequest> RequestMarshaller<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class =>
        method.Name == nameof(FederationService.SubmitUpdate) && typeof(TRequest) == typeof(UpdateMessage)
            ? (Marshaller<TRequest>)(object)Marshallers.Create(((Marshaller<UpdateMessage>)(object)method.RequestMarshaller).ContextualSerializer, UploadSink.Deserialize)
            : method.RequestMarshaller;

    private static TDelegate Handler<TDelegate>(string name)
        where TDelegate : Delegate
    {
        var info = typeof(FederationService).GetMethod(name, BindingFlags.Public | BindingFlags.Instance)
            ?? throw new InvalidOperationException($"FederationService has no public method '{name}' for the RPC of that name.");
        return info.CreateDelegate<TDelegate>();
    }

    private sealed class Binder(ServiceMethodProviderContext<FederationEndpoint> context) : ServiceBinderBase
    {
        private static readonly List<object> NoMetadata = [];

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            var call = Handler<Func<FederationService, TRequest, ServerCallContext, Task<TResponse>>>(method.Name);
            context.AddUnaryMethod(Wrap(method), NoMetadata, (endpoint, request, ctx) => call(endpoint.Service, request, ctx));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var call = Handler<Func<FederationService, IAsyncStreamReader<TRequest>, ServerCallContext, Task<TResponse>>>(method.Name);
            context.AddClientStreamingMethod(Wrap(method), NoMetadata, (endpoint, stream, ctx) => call(endpoint.Service, stream, ctx));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var call = Handler<Func<FederationService, TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task>>(method.Name);
            context.AddServerStreamingMethod(Wrap(method), NoMetadata, (endpoint, request, stream, ctx) => call(endpoint.Service, request, stream, ctx));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            var call = Handler<Func<FederationService, IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task>>(method.Name);
            context.AddDuplexStreamingMethod(Wrap(method), NoMetadata, (endpoint, input, output, ctx) => call(endpoint.Service, input, output, ctx));
        }
    }
}
