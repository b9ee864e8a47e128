using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// The plaintext of one encrypted share: sender ‖ receiver ‖ len ‖ share of b_u ‖ len ‖ share of s_u^SK
/// (Bonawitz et al. 2017 put u ‖ v inside the ciphertext too, so a relabelled bundle is detected even past the AEAD).
/// </summary>
internal static class SecAggShareBundle
{
    public static byte[] Encode(int sender, int receiver, ReadOnlySpan<byte> selfMaskShare, ReadOnlySpan<byte> maskKeyShare)
    {
        byte[] bundle = new byte[16 + selfMaskShare.Length + maskKeyShare.Length];
        Span<byte> s = bundle;
        BinaryPrimitives.WriteInt32LittleEndian(s, sender);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], receiver);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], selfMaskShare.Length);
        selfMaskShare.CopyTo(s[12..]);
        int at = 12 + selfMaskShare.Length;
        BinaryPrimitives.WriteInt32LittleEndian(s[at..], maskKeyShare.Length);
        maskKeyShare.CopyTo(s[(at + 4)..]);
        return bundle;
    }

    public static bool TryDecode(ReadOnlySpan<byte> bundle, out int sender, out int receiver,
        [NotNullWhen(true)] out byte[]? selfMaskShare, [NotNullWhen(true)] out byte[]? maskKeyShare)
    {
        sender = receiver = -1;
        selfMaskShare = maskKeyShare = null;
        if (bundle.Length < 16)
        {
            return false;
        }

        sender = BinaryPrimitives.ReadInt32LittleEndian(bundle);
        receiver = BinaryPrimitives.ReadInt32LittleEndian(bundle[4..]);
        int first = BinaryPrimitives.ReadInt32LittleEndian(bundle[8..]);
        if (first < 0 || first > bundle.Length - 16)
        {
            return false;
        }

        int second = BinaryPrimitives.ReadInt32LittleEndian(bundle[(12 + first)..]);
        if (second < 0 || 16 + first + second != bundle.Length)
        {
            return false;
        }

        selfMaskShare = bundle.Slice(12, first).ToArray();
        maskKeyShare = bundle.Slice(16 + first, second).ToArray();
        return true;
    }
}
