namespace Engine.Models.Data.Images;

/// <summary>
/// Checks a JPEG's marker segments against the file's length before the decoder sees it. StbImageSharp skips a
/// segment by seeking past it; a length field that points beyond the end of the file leaves its reader past the
/// end, where its end-of-file test never holds, and it loops for ever (found by fuzzing: an APP0 of 61,711 bytes
/// in a 989-byte file); its header reader does the same. So JPEGs never reach the library's header reader: the walk
/// here finds the frame header (SOFn) and its size itself. Files that end early inside entropy-coded data are left to
/// the decoder, which handles them.
/// </summary>
internal static class JpegSegments
{
    /// <summary>
    /// Walks the segments of <paramref name="bytes"/>, the first bytes of a file of <paramref name="fileLength"/>
    /// bytes (all of it, or a head). Null when it is not a JPEG (<paramref name="isJpeg"/> false) or its segments fit
    /// in the file; else why not, a sentence naming <paramref name="name"/>. <paramref name="frameSeen"/>: a frame
    /// header with a positive size was found; <paramref name="complete"/>: the walk reached the end of the header
    /// segments (the first scan), so a missing frame header is really missing.
    /// </summary>
    public static string? Check(ReadOnlySpan<byte> bytes, string name, long fileLength, out bool isJpeg, out bool frameSeen, out bool complete)
    {
        isJpeg = frameSeen = complete = false;
        int p = 0;
        while (p < bytes.Length && bytes[p] == 0xFF) p++;                 // fill bytes before SOI, as the decoder allows
        if (p == 0 || p >= bytes.Length || bytes[p] != 0xD8) return null;   // not a JPEG: another decoder's business
        isJpeg = true;
        p++;
        while (p < bytes.Length)
        {
            if (bytes[p] != 0xFF) { p++; continue; }                      // stray bytes between segments: the decoder steps over them too
            int at = p;
            while (p < bytes.Length && bytes[p] == 0xFF) p++;
            if (p >= bytes.Length) return null;
            byte marker = bytes[p++];
            if (marker == 0xD9) { complete = true; return null; }           // EOI
            if (marker is 0x00 or 0x01 or (>= 0xD0 and <= 0xD7)) continue;  // no length: stuffing, TEM, restart markers
            if (p + 2 > bytes.Length)                                       // the length field itself is cut off
                return bytes.Length < fileLength ? null                     // (only in the head that was read)
                    : $"image: cannot decode {name}: the file ends inside the length of the JPEG segment FF{marker:X2} at byte {at}; the file is cut short.";
            int length = bytes[p] << 8 | bytes[p + 1];
            if (length < 2)
                return $"image: cannot decode {name}: the JPEG segment FF{marker:X2} at byte {at} gives a length of {length}, less than its own 2 length bytes.";
            if ((long)p + length > fileLength)
                return $"image: cannot decode {name}: the JPEG segment FF{marker:X2} at byte {at} is {length} bytes long, past the end of the file ({bytes.Length} bytes); the file is damaged or cut short.";
            if ((long)p + length > bytes.Length) return null;              // beyond the head that was read: fits the file
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC && length >= 8)
                frameSeen |= (bytes[p + 3] << 8 | bytes[p + 4]) > 0 && (bytes[p + 5] << 8 | bytes[p + 6]) > 0;
            p += length;
            if (marker == 0xDA) complete = true;
            if (marker == 0xDA)                                             // SOS: entropy-coded data up to the next real marker
                while (p + 1 < bytes.Length && !(bytes[p] == 0xFF && bytes[p + 1] is not 0x00 and not (>= 0xD0 and <= 0xD7))) p++;
        }
        complete = true;
        return null;
    }
}
