using System.Buffers.Binary;
using System.Text;

namespace Engine.Models.Serialization.Pth;

/// <summary>
/// Walks the opcodes of one pickle before anything is unpickled: finds where it ends (the STOP opcode),
/// checks every length it declares against the bytes that remain, and refuses any global outside
/// <see cref="AllowedGlobals"/>, naming it. The unpickler then only ever sees pickles that name the
/// objects a state dict is made of (tensors, storages, ordered dicts), so it never builds anything else.
/// </summary>
internal static class PickleScanner
{
    /// <summary>The globals a PyTorch state dict needs: tensor and parameter rebuilders, the storage classes, OrderedDict.</summary>
    public static readonly IReadOnlySet<string> AllowedGlobals = new HashSet<string>(StringComparer.Ordinal)
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
        "torch.ByteStorage", "torch.BoolStorage",
    };

    /// <summary>
    /// Scans the pickle at the start of <paramref name="data"/> and returns its length in bytes (through
    /// STOP). Throws <see cref="PthException"/> for a truncated or malformed pickle and for a refused global.
    /// When <paramref name="final"/> is false, <paramref name="data"/> is only the start of what the file
    /// holds, and running out of it returns -1 (the caller reads more and scans again).
    /// </summary>
    public static int Scan(ReadOnlySpan<byte> data, string source, string what, bool final = true)
    {
        try
        {
            return ScanAll(data, source, what);
        }
        catch (OutOfData e)
        {
            if (!final) return -1;
            throw Fail(source, what, e.Message);
        }
    }

    /// <summary>The pickle needs more bytes than there are.</summary>
    private sealed class OutOfData(string message) : Exception(message);

    private static int ScanAll(ReadOnlySpan<byte> data, string source, string what)
    {
        int pos = 0;
        // Strings pushed recently and strings memoised, so STACK_GLOBAL (protocol 4) can be named and checked.
        var recent = new List<string?>();
        var memo = new Dictionary<long, string?>();
        while (true)
        {
            if (pos >= data.Length) throw new OutOfData($"it ends after {data.Length} bytes without the STOP opcode: the file is truncated or corrupted.");
            int at = pos;
            byte op = data[pos++];
            string? pushed = null;
            switch (op)
            {
                case (byte)'.': return pos; // STOP
                // No argument.
                case (byte)'(' or (byte)'0' or (byte)'1' or (byte)'2' or (byte)'N' or (byte)'R' or (byte)'a' or (byte)'b'
                    or (byte)'d' or (byte)'}' or (byte)'e' or (byte)'l' or (byte)']' or (byte)'o' or (byte)'s' or (byte)'t'
                    or (byte)')' or (byte)'u' or (byte)'Q' or 0x81 or 0x85 or 0x86 or 0x87 or 0x88 or 0x89 or 0x8f or 0x90
                    or 0x91 or 0x92:
                    break;
                case 0x94: // MEMOIZE
                    memo[memo.Count] = recent.Count > 0 ? recent[^1] : null;
                    break;
                case 0x93: // STACK_GLOBAL
                {
                    string? module = recent.Count >= 2 ? recent[^2] : null, name = recent.Count >= 1 ? recent[^1] : null;
                    if (module is null || name is null)
                        throw Fail(source, what, $"a STACK_GLOBAL at byte {at} takes its names from values this reader cannot follow; refused.");
                    CheckGlobal(module, name, source, what);
                    break;
                }
                // Newline-terminated arguments.
                case (byte)'F' or (byte)'I' or (byte)'L' or (byte)'S' or (byte)'V' or (byte)'P':
                {
                    var line = Line(data, ref pos, source, what);
                    if (op is (byte)'V') pushed = Encoding.UTF8.GetString(line);
                    break;
                }
                case (byte)'g': pushed = Memo(memo, ParseIndex(Line(data, ref pos, source, what), source, what)); break;
                case (byte)'p': memo[ParseIndex(Line(data, ref pos, source, what), source, what)] = recent.Count > 0 ? recent[^1] : null; break;
                case (byte)'c': // GLOBAL
                {
                    var module = Encoding.UTF8.GetString(Line(data, ref pos, source, what));
                    var name = Encoding.UTF8.GetString(Line(data, ref pos, source, what));
                    CheckGlobal(module, name, source, what);
                    break;
                }
                case (byte)'i': // INST: builds an instance of a named class
                {
                    var module = Encoding.UTF8.GetString(Line(data, ref pos, source, what));
                    var name = Encoding.UTF8.GetString(Line(data, ref pos, source, what));
                    throw Fail(source, what, $"it builds an instance of the global '{module}.{name}' (INST), which a state dict does not need; refused.");
                }
                // Fixed-size arguments.
                case (byte)'K' or 0x80 or 0x82: Skip(data, ref pos, 1, source, what); break;
                case (byte)'M' or 0x83: Skip(data, ref pos, 2, source, what); break;
                case (byte)'J' or 0x84: Skip(data, ref pos, 4, source, what); break;
                case (byte)'G' or 0x95: Skip(data, ref pos, 8, source, what); break;
                case (byte)'h': Need(data, pos, 1, source, what); pushed = Memo(memo, data[pos]); pos += 1; break;
                case (byte)'j': Need(data, pos, 4, source, what); pushed = Memo(memo, BinaryPrimitives.ReadUInt32LittleEndian(data[pos..])); pos += 4; break;
                case (byte)'q': Need(data, pos, 1, source, what); memo[data[pos]] = recent.Count > 0 ? recent[^1] : null; pos += 1; break;
                case (byte)'r': Need(data, pos, 4, source, what); memo[BinaryPrimitives.ReadUInt32LittleEndian(data[pos..])] = recent.Count > 0 ? recent[^1] : null; pos += 4; break;
                // Length-prefixed arguments.
                case (byte)'U' or (byte)'C' or 0x8a: Counted(data, ref pos, 1, source, what); break;
                case (byte)'T' or (byte)'B' or 0x8b: Counted(data, ref pos, 4, source, what); break;
                case 0x8e or 0x96: Counted(data, ref pos, 8, source, what); break;
                case 0x8c: pushed = Encoding.UTF8.GetString(Counted(data, ref pos, 1, source, what)); break;
                case (byte)'X': pushed = Encoding.UTF8.GetString(Counted(data, ref pos, 4, source, what)); break;
                case 0x8d: pushed = Encoding.UTF8.GetString(Counted(data, ref pos, 8, source, what)); break;
                default:
                    throw Fail(source, what, $"byte {at} holds 0x{op:x2}, which is not a pickle opcode this reader accepts: the file is corrupted or not a PyTorch checkpoint.");
            }
            // Track the strings on top of the stack (approximately: enough for STACK_GLOBAL's two names).
            if (pushed is not null || op is not (0x94 or (byte)'p' or (byte)'q' or (byte)'r' or 0x95 or 0x80))
            {
                recent.Add(pushed);
                if (recent.Count > 2) recent.RemoveAt(0);
            }
        }
    }

    private static void CheckGlobal(string module, string name, string source, string what)
    {
        var full = $"{module}.{name}";
        if (!AllowedGlobals.Contains(full))
            throw Fail(source, what, $"it names the global '{full}', which a state dict does not need; refused " +
                "(only tensors, storages and ordered dicts are read: nothing in a checkpoint is ever run).");
    }

    private static string? Memo(Dictionary<long, string?> memo, long index) => memo.TryGetValue(index, out var s) ? s : null;

    private static long ParseIndex(ReadOnlySpan<byte> line, string source, string what) =>
        long.TryParse(Encoding.ASCII.GetString(line), out var i) ? i : throw Fail(source, what, "a memo index is not a number: the file is corrupted.");

    private static ReadOnlySpan<byte> Line(ReadOnlySpan<byte> data, ref int pos, string source, string what)
    {
        int end = data[pos..].IndexOf((byte)'\n');
        if (end < 0) throw new OutOfData("it ends inside a text argument: the file is truncated.");
        var line = data.Slice(pos, end);
        pos += end + 1;
        return line;
    }

    private static void Need(ReadOnlySpan<byte> data, int pos, long bytes, string source, string what)
    {
        if (bytes < 0) throw Fail(source, what, $"an opcode at byte {pos - 1} declares a negative length ({bytes}): the file is corrupted.");
        if (bytes > data.Length - pos)
            throw new OutOfData($"an opcode at byte {pos - 1} declares {bytes} bytes but only {data.Length - pos} remain: the file is truncated or corrupted.");
    }

    private static void Skip(ReadOnlySpan<byte> data, ref int pos, int bytes, string source, string what)
    {
        Need(data, pos, bytes, source, what);
        pos += bytes;
    }

    private static ReadOnlySpan<byte> Counted(ReadOnlySpan<byte> data, ref int pos, int prefix, string source, string what)
    {
        Need(data, pos, prefix, source, what);
        long n = prefix switch
        {
            1 => data[pos],
            4 => BinaryPrimitives.ReadInt32LittleEndian(data[pos..]),
            _ => BinaryPrimitives.ReadInt64LittleEndian(data[pos..]),
        };
        pos += prefix;
        Need(data, pos, n, source, what);
        var bytes = data.Slice(pos, (int)n);
        pos += (int)n;
        return bytes;
    }

    private static PthException Fail(string source, string what, string problem) => new(source, $"{what}: {problem}");
}
