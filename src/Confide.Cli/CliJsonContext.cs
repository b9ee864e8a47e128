using System.Text.Json.Serialization;
using Confide.Cli.Federation;

namespace Confide.Cli;

/// <summary>
/// Source-generated JSON metadata for the CLI's <c>--json</c> reports that are built as dictionaries, so they
/// serialize without reflection and a native AOT build of <c>confide</c> (docs/deployment.md) prints them too. A value
/// typed <c>object</c> is written by its runtime type, which must be listed here; a missing one fails the report's
/// test with the type's name.
/// </summary>
[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(List<Dictionary<string, object?>>))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(BenchClientProcesses.ChildReport))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(double[]))]
[JsonSerializable(typeof(long[][]))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
