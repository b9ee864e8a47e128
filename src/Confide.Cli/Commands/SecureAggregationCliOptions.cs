using System.CommandLine;
using Confide.Server;

namespace Confide.Cli.Commands;

/// <summary>The <c>confide server</c> options of secure aggregation (SecAgg+ over the wire), named as in <c>confide simulate</c>.</summary>
internal sealed class SecureAggregationCliOptions
{
    private readonly Option<bool> _secureAgg = new("--secure-agg") { Description = "Run every round through secure aggregation (SecAgg+ over the wire): the server sees only the sum." };
    private readonly Option<int?> _neighbours = new("--neighbours") { Description = "With --secure-agg: SecAgg+ neighbourhood size k (default: ⌈2·log2 n⌉ rounded up to even, Bell et al.; n − 1 is the full graph)." };
    private readonly Option<double> _clip = new("--secagg-clip") { Description = "With --secure-agg and no DP: per-coordinate clip range c before quantizing.", DefaultValueFactory = _ => 1.0 };
    private readonly Option<int> _bits = new("--secagg-bits") { Description = "With --secure-agg: the modulus exponent (sums live in Z_2^bits).", DefaultValueFactory = _ => 32 };
    private readonly Option<double> _stageDeadline = new("--stage-deadline") { Description = "With --secure-agg: seconds each SecAgg stage after AdvertiseKeys waits (AdvertiseKeys waits --deadline).", DefaultValueFactory = _ => 30 };

    private SecureAggregationCliOptions()
    {
    }

    /// <summary>Registers the options on <paramref name="command"/>.</summary>
    public static SecureAggregationCliOptions AddTo(Command command)
    {
        var options = new SecureAggregationCliOptions();
        foreach (var o in new Option[] { options._secureAgg, options._neighbours, options._clip, options._bits, options._stageDeadline })
        {
            command.Options.Add(o);
        }

        return options;
    }

    /// <summary>The settings, or null without <c>--secure-agg</c>.</summary>
    public SecureAggregationSettings? Read(ParseResult parse)
    {
        if (!parse.GetValue(_secureAgg))
        {
            return parse.GetValue(_neighbours) is null ? null : throw new CliException("--neighbours needs --secure-agg.", 2);
        }

        return new SecureAggregationSettings(TimeSpan.FromSeconds(parse.GetValue(_stageDeadline)), parse.GetValue(_neighbours), parse.GetValue(_bits), parse.GetValue(_clip));
    }

    /// <summary>One line for the server's start-up banner.</summary>
    public static string Describe(SecureAggregationSettings secure) =>
        $"secure aggregation on: SecAgg+ {(secure.Neighbours is int k ? $"k = {k}" : "k = ⌈2·log2 n⌉")}, Z_2^{secure.ModulusBits}, {secure.StageTimeout.TotalSeconds:G4} s per stage";
}
