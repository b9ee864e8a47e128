using Confide.Training.Data;

namespace Confide.Training.Models;

/// <summary>
/// The shape of a <see cref="ConvNet"/>: two k × k convolutions (stride 1, zero padding p) each followed by ReLU and
/// 2 × 2 max-pooling, then fully connected layers. Validated where built: every feature map must keep at least one pixel.
/// </summary>
public sealed record ConvNetOptions
{
    /// <summary>Creates options; see the properties for the meaning of each value.</summary>
    /// <exception cref="ArgumentException">A size is not positive, or the input is too small for the convolutions and pools.</exception>
    public ConvNetOptions(ImageShape inputShape, int classCount, int conv1Channels = 6, int conv2Channels = 16, int kernelSize = 5, int padding = 0, IReadOnlyList<int>? hidden = null)
    {
        inputShape.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(conv1Channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(conv2Channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        hidden ??= [120, 84];
        foreach (int width in hidden)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width, nameof(hidden));
        }

        InputShape = inputShape;
        ClassCount = classCount;
        Conv1Channels = conv1Channels;
        Conv2Channels = conv2Channels;
        KernelSize = kernelSize;
        Padding = padding;
        Hidden = [.. hidden];
        Conv1Height = inputShape.Height + (2 * padding) - kernelSize + 1;
        Conv1Width = inputShape.Width + (2 * padding) - kernelSize + 1;
        Conv2Height = (Conv1Height / 2) + (2 * padding) - kernelSize + 1;
        Conv2Width = (Conv1Width / 2) + (2 * padding) - kernelSize + 1;
        if (Conv1Height < 2 || Conv1Width < 2 || Conv2Height < 2 || Conv2Width < 2)
        {
            throw new ArgumentException(
                $"Input {inputShape} is too small for two {kernelSize}×{kernelSize} convolutions with padding {padding} and 2×2 pooling " +
                $"(feature maps {Conv1Height}×{Conv1Width} then {Conv2Height}×{Conv2Width}; each must be at least 2×2). Increase the padding or reduce the kernel.",
                nameof(inputShape));
        }
    }

    /// <summary>
    /// NIID-Bench's CNN (Li et al. 2021, "Federated Learning on Non-IID Data Silos: An Experimental Study"):
    /// conv 6 → conv 16 (5 × 5, no padding) → 120 → 84 → classes. For 28 × 28 inputs the flattened size is 16·4·4 = 256.
    /// </summary>
    public static ConvNetOptions NiidBench(ImageShape inputShape, int classCount) => new(inputShape, classCount);

    /// <summary>
    /// The same network for 8 × 8 digits. Unpadded 5 × 5 convolutions leave 8 → 4 → 2 and the second convolution does not
    /// fit, so both convolutions use padding 2 ("same"): 8 × 8 → pool 4 × 4 → pool 2 × 2, flattened to 16·2·2 = 64.
    /// </summary>
    public static ConvNetOptions ForSmallImages(ImageShape inputShape, int classCount) => new(inputShape, classCount, padding: 2);

    /// <summary>The shape of one input sample (channels last when there are several).</summary>
    public ImageShape InputShape { get; }

    /// <summary>The number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Output channels of the first convolution.</summary>
    public int Conv1Channels { get; }

    /// <summary>Output channels of the second convolution.</summary>
    public int Conv2Channels { get; }

    /// <summary>The side k of both square kernels.</summary>
    public int KernelSize { get; }

    /// <summary>Zero padding on each side for both convolutions.</summary>
    public int Padding { get; }

    /// <summary>Widths of the fully connected hidden layers.</summary>
    public IReadOnlyList<int> Hidden { get; }

    /// <summary>Height of the first convolution's output.</summary>
    public int Conv1Height { get; }

    /// <summary>Width of the first convolution's output.</summary>
    public int Conv1Width { get; }

    /// <summary>Height of the second convolution's output.</summary>
    public int Conv2Height { get; }

    /// <summary>Width of the second convolution's output.</summary>
    public int Conv2Width { get; }

    /// <summary>The length of the flattened features after the second pool.</summary>
    public int FlatSize => (Conv2Height / 2) * (Conv2Width / 2) * Conv2Channels;
}
