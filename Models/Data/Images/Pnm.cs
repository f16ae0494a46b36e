using System.Text;

namespace Engine.Models.Data.Images;

/// <summary>
/// Netpbm's grey and colour formats, which torchvision's extensions include (.pgm, .ppm) and stb_image does not
/// read: P5/P6 (binary) and P2/P3 (plain text), any maxval up to 65535. Samples are scaled to 8 bits as
/// <c>round(v / maxval * 255)</c> with halves to even, as PIL (the identity for the usual maxval 255); grey is repeated over RGB.
/// </summary>
internal static class Pnm
{
    /// <summary>Whether <paramref name="head"/> starts like a format this reads.</summary>
    public static bool Recognises(ReadOnlySpan<byte> head) => head is [(byte)'P', (byte)'2' or (byte)'3' or (byte)'5' or (byte)'6', ..];

    /// <summary>The header (kind, width, height, maxval, offset of the first sample), or why it is not one.</summary>
    public static (char Kind, int Width, int Height, int MaxVal, int DataOffset)? Header(ReadOnlySpan<byte> bytes, out string? why)
    {
        why = null;
        if (!Recognises(bytes)) { why = "not a PGM/PPM (P2, P3, P5, P6) file"; return null; }
        int pos = 2;
        var fields = new int[3];
        for (int f = 0; f < 3; f++)
        {
            if (ReadNumber(bytes, ref pos) is not { } v) { why = "its header is cut short or malformed"; return null; }
            fields[f] = v;
        }
        var (width, height, maxVal) = (fields[0], fields[1], fields[2]);
        if (width <= 0 || height <= 0 || maxVal is <= 0 or > 65535) { why = $"its header says {width}x{height} with maxval {maxVal}"; return null; }
        // Exactly one whitespace byte separates the header from binary samples.
        return ((char)bytes[1], width, height, maxVal, pos + 1);
    }

    /// <summary>Decodes a whole file to RGB bytes; throws <see cref="InvalidDataException"/> naming <paramref name="name"/>.</summary>
    public static HwcImage Decode(byte[] bytes, string name)
    {
        if (Header(bytes, out var why) is not { } h) throw new InvalidDataException($"image: cannot decode {name}: {why}.");
        int channels = h.Kind is '3' or '6' ? 3 : 1;
        long count = (long)h.Width * h.Height * channels;
        if (count > int.MaxValue / 3) throw new InvalidDataException($"image: cannot decode {name}: {h.Width}x{h.Height} is too large.");
        var samples = new byte[count];
        if (h.Kind is '5' or '6')
        {
            int size = h.MaxVal > 255 ? 2 : 1;
            if (h.DataOffset + count * size > bytes.Length)
                throw new InvalidDataException($"image: cannot decode {name}: {bytes.Length - h.DataOffset} bytes of samples, the header needs {count * size}.");
            for (int i = 0; i < count; i++)
            {
                int v = size == 1 ? bytes[h.DataOffset + i] : (bytes[h.DataOffset + 2 * i] << 8) | bytes[h.DataOffset + 2 * i + 1];
                samples[i] = Scale(v, h.MaxVal);
            }
        }
        else
        {
            int pos = h.DataOffset - 1;
            for (int i = 0; i < count; i++)
                samples[i] = ReadNumber(bytes, ref pos) is { } v ? Scale(v, h.MaxVal)
                    : throw new InvalidDataException($"image: cannot decode {name}: sample {i} of {count} is missing or malformed.");
        }
        if (channels == 3) return new HwcImage(samples, h.Height, h.Width, 3);
        var rgb = new byte[count * 3];
        for (int i = 0; i < count; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = samples[i];
        return new HwcImage(rgb, h.Height, h.Width, 3);
    }

    private static byte Scale(int v, int maxVal) => (byte)Math.Min(255, maxVal == 255 ? v : (int)Math.Round(v / (double)maxVal * 255, MidpointRounding.ToEven));

    /// <summary>The next decimal number after whitespace and '#' comments, or null.</summary>
    private static int? ReadNumber(ReadOnlySpan<byte> bytes, ref int pos)
    {
        while (pos < bytes.Length)
        {
            if (bytes[pos] == '#') { while (pos < bytes.Length && bytes[pos] != '\n' && bytes[pos] != '\r') pos++; }
            else if (bytes[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f') pos++;
            else break;
        }
        long value = 0;
        int start = pos;
        while (pos < bytes.Length && bytes[pos] is >= (byte)'0' and <= (byte)'9' && value <= int.MaxValue)
            value = value * 10 + (bytes[pos++] - '0');
        return pos == start || value > int.MaxValue ? null : (int)value;
    }
}
