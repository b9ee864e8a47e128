using System.Globalization;

namespace Confide.Training.Attacks;

/// <summary>
/// Builds attacks from their CLI spelling. One name, or a data attack and a model attack joined by '+'
/// (for example <c>backdoor:0+scaling</c>, Bagdasaryan et al.'s backdoor with model replacement).
/// </summary>
public static class AttackCatalog
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Syntax =
        "label-flip | sign-flip[:c] | gaussian[:sigma] | scaling[:gamma] | backdoor[:target] | alie[:z] | ipm[:eps], or data+model (e.g. backdoor:0+scaling)";

    /// <summary>Parses <paramref name="spec"/>.</summary>
    /// <exception cref="ArgumentException">An unknown name, a bad parameter, or two attacks of the same kind.</exception>
    public static MaliciousBehaviour Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        IDataPoisoningAttack? data = null;
        IModelPoisoningAttack? model = null;
        foreach (string part in spec.Split('+'))
        {
            var attack = ParseOne(part.Trim(), spec);
            switch (attack)
            {
                case IDataPoisoningAttack d when data is null:
                    data = d;
                    break;
                case IModelPoisoningAttack m when model is null:
                    model = m;
                    break;
                default:
                    throw new ArgumentException($"Attack '{spec}' combines two attacks of the same kind; combine at most one data attack and one model attack.");
            }
        }

        return new MaliciousBehaviour(data, model);
    }

    private static IAttack ParseOne(string part, string spec)
    {
        var pieces = part.Split(':', 2);
        string name = pieces[0].ToLowerInvariant();
        string? arg = pieces.Length > 1 ? pieces[1] : null;
        try
        {
            return name switch
            {
                "label-flip" when arg is null => new LabelFlipping(),
                "sign-flip" => new SignFlipping(Number(arg) ?? 1.0),
                "gaussian" => new GaussianNoiseAttack(Number(arg) ?? 1.0),
                "scaling" => new ModelReplacement(Number(arg)),
                "backdoor" => new PixelPatternBackdoor(arg is null ? 0 : int.Parse(arg, NumberStyles.None, CultureInfo.InvariantCulture)),
                "alie" => new ALittleIsEnough(Number(arg)),
                "ipm" => new InnerProductManipulation(Number(arg) ?? 0.1),
                _ => throw new ArgumentException($"Unknown attack '{part}' in '{spec}'; expected {Syntax}."),
            };
        }
        catch (FormatException)
        {
            throw new ArgumentException($"Attack '{part}' has a parameter that is not a number; expected {Syntax}.");
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new ArgumentException($"Attack '{part}': {ex.Message.Split(" (Parameter", 2)[0]}");
        }
    }

    private static double? Number(string? s) => s is null ? null : double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
