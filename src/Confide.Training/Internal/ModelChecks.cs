namespace Confide.Training.Internal;

/// <summary>Argument checks shared by the model workspaces.</summary>
internal static class ModelChecks
{
    /// <summary>Returns the batch size after checking that inputs and labels agree and fit the workspace.</summary>
    public static int Batch(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, int inputSize, int maxBatch)
    {
        int batch = labels.Length;
        if (inputs.Length != (long)batch * inputSize)
        {
            throw new ArgumentException($"{batch} labels need {(long)batch * inputSize} input values ({inputSize} per sample), got {inputs.Length}.", nameof(inputs));
        }

        if (batch > maxBatch)
        {
            throw new ArgumentException($"The batch of {batch} exceeds the workspace's maximum of {maxBatch}.", nameof(labels));
        }

        return batch;
    }

    /// <summary>Checks that a parameter vector has the layout's length.</summary>
    public static void Length(ReadOnlySpan<float> parameters, Confide.Parameters.ParameterLayout layout)
    {
        if (parameters.Length != layout.TotalLength)
        {
            throw new ArgumentException($"The model has {layout.TotalLength} parameters, the vector {parameters.Length}.", nameof(parameters));
        }
    }
}
