using System.Text.Json.Serialization;

namespace Confide.Privacy.Internal;

/// <summary>Source-generated JSON metadata for the ledger format (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(PrivacyLedger.LedgerDto))]
internal sealed partial class LedgerJsonContext : JsonSerializerContext;
