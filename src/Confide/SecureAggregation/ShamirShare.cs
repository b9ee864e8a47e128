using System.Buffers.Binary;
using System.Security.Cryptography;
using Confide.SecureAggregation.Internal;

namespace Confide.SecureAggregation;

/// <summary>
/// One party's Shamir share of one byte secret: the evaluation point <see cref="X"/> and, for each 7-byte chunk of
/// the secret, the value of that chunk's polynomial at X in GF(2^61 − 1). A share is secret material: it is
/// zeroed on <see cref="Dispose"/> and never printed.
/// </summary>
/// <remarks>Wire encoding (<see cref="ToBytes"/>): x (uint32 LE), secret length (uint32 LE), then each value (uint64 LE).</remarks>
public sealed class ShamirShare : IDisposable
{
    /// <summary>Bytes before the values in the encoding.</summary>
    public const int HeaderSize = 8;

    private readonly ulong[] _values;

    /// <summary>Builds a share; the values are copied.</summary>
    /// <exception cref="SecretSharingException">x is not positive, the value count does not match the secret length, or a value is outside the field.</exception>
    public ShamirShare(int x, int secretLength, ReadOnlySpan<ulong> values)
    {
        if (x < 1)
        {
            throw new SecretSharingException(SecretSharingError.MalformedShare, $"A share's x must be at least 1 (x = 0 is the secret itself); got {x}.");
        }

        if (secretLength < 1)
        {
            throw new SecretSharingException(SecretSharingError.MalformedShare, $"The secret length must be at least 1 byte; got {secretLength}.");
        }

        int expected = ShamirSecretSharing.ChunkCount(secretLength);
        if (values.Length != expected)
        {
            throw new SecretSharingException(SecretSharingError.LengthMismatch, $"A share of a {secretLength}-byte secret holds {expected} values, not {values.Length}.");
        }

        foreach (ulong v in values)
        {
            if (v >= Mersenne61.P)
            {
                throw new SecretSharingException(SecretSharingError.MalformedShare, "A share value is not below the field prime 2^61 - 1.");
            }
        }

        X = x;
        SecretLength = secretLength;
        _values = values.ToArray();
    }

    /// <summary>The evaluation point, at least 1.</summary>
    public int X { get; }

    /// <summary>The length in bytes of the shared secret.</summary>
    public int SecretLength { get; }

    /// <summary>One field element per 7-byte chunk of the secret.</summary>
    public ReadOnlySpan<ulong> Values => _values;

    /// <summary>The length of <see cref="ToBytes"/>.</summary>
    public int EncodedLength => HeaderSize + (8 * _values.Length);

    /// <summary>Decodes a share written by <see cref="WriteTo"/>.</summary>
    /// <exception cref="SecretSharingException">The encoding is malformed.</exception>
    public static ShamirShare FromBytes(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length < HeaderSize || (encoded.Length - HeaderSize) % 8 != 0)
        {
            throw new SecretSharingException(SecretSharingError.MalformedShare, $"An encoded share is 8 + 8·m bytes long; got {encoded.Length} bytes.");
        }

        uint x = BinaryPrimitives.ReadUInt32LittleEndian(encoded);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(encoded[4..]);
        if (x > int.MaxValue || length > int.MaxValue)
        {
            throw new SecretSharingException(SecretSharingError.MalformedShare, "An encoded share's x or secret length is out of range.");
        }

        var values = new ulong[(encoded.Length - HeaderSize) / 8];
        try
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadUInt64LittleEndian(encoded[(HeaderSize + (8 * i))..]);
            }

            return new ShamirShare((int)x, (int)length, values);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }
    }

    /// <summary>Writes the encoding into <paramref name="destination"/> (at least <see cref="EncodedLength"/> bytes).</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < EncodedLength)
        {
            throw new ArgumentException($"The destination needs {EncodedLength} bytes, not {destination.Length}.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)X);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)SecretLength);
        for (int i = 0; i < _values.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[(HeaderSize + (8 * i))..], _values[i]);
        }
    }

    /// <summary>The encoding as a new array (secret: zero it when done).</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[EncodedLength];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Zeroes the values.</summary>
    public void Dispose() => CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_values.AsSpan()));

    /// <inheritdoc/>
    public override string ToString() => $"ShamirShare(x = {X}, {SecretLength}-byte secret)";
}
