using System.Text.Json.Serialization;

namespace Confide.Server.Internal;

/// <summary>
/// Source-generated JSON metadata for the string lists the state database keeps in text columns (participants,
/// stragglers, flags), so the store needs no reflection and works in a native AOT build. The format is the one the
/// reflection-based serializer wrote: a JSON array of strings, or of [client, reason] pairs.
/// </summary>
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(string[][]))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
