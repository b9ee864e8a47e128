namespace Confide.Protocol.SecureAggregation.Internal;

/// <summary>
/// An estimate of each message's size on the wire: ids as 4 bytes, keys and signatures raw, vectors packed at
/// ⌈k/8⌉ bytes per element, plus the session id and round once per message. The transport's real framing adds a little.
/// </summary>
internal static class SecAggWireSize
{
    public static long Of(SecAggClientMessage message, int modulusBits)
    {
        long header = Header(message.SessionId);
        return header + message switch
        {
            AdvertiseKeysMessage m => Keys(m),
            ShareKeysMessage m => m.Shares.Sum(s => 8L + s.Ciphertext.Length),
            MaskedInputMessage m => (long)m.MaskedInput.Length * ((modulusBits + 7) / 8),
            ConsistencySignatureMessage m => m.Signature.Length,
            UnmaskingResponseMessage m => m.SelfMaskShares.Concat(m.MaskKeyShares).Sum(s => 4L + s.Share.Length),
            _ => 0,
        };
    }

    public static long Of(SecAggServerMessage message)
    {
        long header = Header(message.SessionId);
        return header + message switch
        {
            KeysBroadcastMessage m => m.Keys.Sum(k => Header(k.SessionId) + Keys(k)),
            SharesDeliveryMessage m => m.Shares.Sum(s => 8L + s.Ciphertext.Length),
            SurvivorListMessage m => 4L * m.Survivors.Count,
            UnmaskingRequestMessage m => (4L * (m.Survivors.Count + m.Dropped.Count)) + m.Signatures.Sum(s => 4L + s.Signature.Length),
            _ => 0,
        };
    }

    private static long Header(string sessionId) => sessionId.Length + 4 + 8 + 4;

    private static long Keys(AdvertiseKeysMessage m) => m.CipherPublicKey.Length + m.MaskPublicKey.Length + m.Signature.Length;
}
