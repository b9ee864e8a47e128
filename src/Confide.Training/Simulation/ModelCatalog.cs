using System.Globalization;
using Confide.Training.Data;
using Confide.Training.Models;

namespace Confide.Training.Simulation;

/// <summary>Builds a model from its CLI spelling: <c>softmax</c>, <c>mlp[:h1,h2,…]</c> or <c>cnn</c>.</summary>
public static class ModelCatalog
{
    /// <summary>The accepted spellings, for help texts.</summary>
    public const string Syntax = "softmax | mlp[:h1,h2,...] | cnn";

    /// <summary>
    /// Parses <paramref name="spec"/> for inputs of <paramref name="shape"/>. <c>mlp</c> alone has one hidden layer of
    /// 200 units for inputs of 256 values or more (the 784-200-10 of McMahan et al. 2017) and 64 otherwise; <c>cnn</c>
    /// is NIID-Bench's network, with padding 2 for images smaller than 16 × 16 (see <see cref="ConvNetOptions.ForSmallImages"/>).
    /// </summary>
    public static IModel Create(string spec, ImageShape shape, int classes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var parts = spec.Split(':', 2);
        string name = parts[0].Trim().ToLowerInvariant();
        string? arg = parts.Length > 1 ? parts[1] : null;
        switch (name)
        {
            case "softmax" when arg is null:
                return new SoftmaxRegression(shape, classes);
            case "mlp":
                int[] hidden;
                try
                {
                    hidden = arg is null ? [shape.Size >= 256 ? 200 : 64] : arg.Split(',').Select(s => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
                }
                catch (FormatException)
                {
                    throw new ArgumentException($"Model '{spec}': hidden widths must be positive integers separated by commas, e.g. mlp:200 or mlp:128,64.");
                }

                return new MultilayerPerceptron(shape, hidden, classes);
            case "cnn" when arg is null:
                return new ConvNet(Math.Min(shape.Height, shape.Width) < 16 ? ConvNetOptions.ForSmallImages(shape, classes) : ConvNetOptions.NiidBench(shape, classes));
            default:
                throw new ArgumentException($"Unknown model '{spec}'; expected {Syntax}.");
        }
    }
}
