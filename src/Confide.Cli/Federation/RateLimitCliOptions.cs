using System.CommandLine;
using Confide.Server;

namespace Confide.Cli.Federation;

/// <summary>The <c>confide server</c> options for request rate limits (<see cref="RateLimitOptions"/>).</summary>
internal sealed class RateLimitCliOptions
{
    private readonly Option<double> _clientRate = new("--client-rate") { Description = "Rate limit: signed requests per second per client.", DefaultValueFactory = _ => RateLimitOptions.Default.ClientPerSecond };
    private readonly Option<int> _clientBurst = new("--client-burst") { Description = "Rate limit: signed requests a client may send at once.", DefaultValueFactory = _ => RateLimitOptions.Default.ClientBurst };
    private readonly Option<double> _addressRate = new("--address-rate") { Description = "Rate limit: unsigned requests (Enroll, GetStatus) per second per remote address.", DefaultValueFactory = _ => RateLimitOptions.Default.AddressPerSecond };
    private readonly Option<int> _addressBurst = new("--address-burst") { Description = "Rate limit: unsigned requests an address may send at once.", DefaultValueFactory = _ => RateLimitOptions.Default.AddressBurst };
    private readonly Option<bool> _off = new("--no-rate-limit") { Description = "Turn request rate limiting off." };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public static RateLimitCliOptions AddTo(Command command)
    {
        var o = new RateLimitCliOptions();
        foreach (var option in new Option[] { o._clientRate, o._clientBurst, o._addressRate, o._addressBurst, o._off })
        {
            command.Options.Add(option);
        }

        return o;
    }

    /// <summary>The limits given, or null with --no-rate-limit.</summary>
    public RateLimitOptions? Read(ParseResult parse)
    {
        if (parse.GetValue(_off))
        {
            return null;
        }

        try
        {
            return new RateLimitOptions(parse.GetValue(_clientRate), parse.GetValue(_clientBurst), parse.GetValue(_addressRate), parse.GetValue(_addressBurst));
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new CliException($"Bad rate limit: {ex.ParamName} = {ex.ActualValue}; rates must be > 0 and bursts ≥ 1.", 2);
        }
    }
}
