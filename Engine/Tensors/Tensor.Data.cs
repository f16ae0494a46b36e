using System.Globalization;
using System.Text;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>The elements in row-major order, converted to <typeparamref name="T"/> (float, double, long or bool).</summary>
    public unsafe T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed("to_array");
        var want = typeof(T) == typeof(float) ? DType.F32 : typeof(T) == typeof(double) ? DType.F64
            : typeof(T) == typeof(long) ? DType.I64 : typeof(T) == typeof(bool) ? DType.Bool
            : throw new NotSupportedException($"to_array: element type {typeof(T).Name} is not supported (float, double, long, bool).");
        using var scope = Scope();
        using var noGrad = Autograd.Tape.NoGrad();
        var host = ToDevice(Device.Cpu);
        var converted = host.ToDType(want);
        var c = converted.Contiguous();
        var result = new T[NumEl];
        new ReadOnlySpan<T>((byte*)((CpuStorage)c.Storage).Pointer + c.Offset * want.SizeOf(), (int)NumEl).CopyTo(result);
        return result;
    }

    /// <summary>The value of a one-element tensor, as a double (PyTorch's <c>item()</c>).</summary>
    public double Item()
    {
        if (NumEl != 1)
            throw new InvalidOperationException($"item: a tensor with {NumEl} elements (shape {Layout.Format(Layout.Shape)}) cannot be converted to a scalar.");
        return DType switch
        {
            DType.I64 => ToArray<long>()[0],
            DType.Bool => ToArray<bool>()[0] ? 1 : 0,
            _ => ToArray<double>()[0],
        };
    }

    /// <summary>The value of a one-element tensor, converted to <typeparamref name="T"/>.</summary>
    public T Item<T>() where T : unmanaged
    {
        if (NumEl != 1)
            throw new InvalidOperationException($"item: a tensor with {NumEl} elements (shape {Layout.Format(Layout.Shape)}) cannot be converted to a scalar.");
        return ToArray<T>()[0];
    }

    /// <summary>
    /// Prints the values as PyTorch 1.13's <c>torch._tensor_str</c> does (one format for all elements chosen
    /// from the non-zero finite values, fixed or scientific notation with 4 decimals, lines wrapped at 80
    /// columns, summarised with '...' beyond 1000 elements), followed by the shape, dtype and device, and
    /// the grad_fn or requires_grad, as suffixes wrapped like PyTorch's.
    /// </summary>
    public override string ToString()
    {
        if (IsDisposed) return $"tensor(<disposed>, shape={Layout.Format(Layout.Shape)})";
        const string prefix = "tensor(";
        string body;
        if (NumEl == 0) body = "[]";
        else if (DType.IsFloatingPoint()) body = TensorFormatter.Format(ToArray<double>(), null, Layout.Shape, prefix.Length);
        else if (DType == DType.I64) body = TensorFormatter.Format(null, ToArray<long>().Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray(), Layout.Shape, prefix.Length);
        else body = TensorFormatter.Format(null, ToArray<bool>().Select(v => v ? "True" : "False").ToArray(), Layout.Shape, prefix.Length);
        var suffixes = new List<string>
        {
            "shape=" + Layout.Format(Layout.Shape),
            "dtype=" + DType.TorchName(),
            "device=" + Device,
        };
        if (GradFn is { } fn) suffixes.Add($"grad_fn=<{fn.Op}>");
        else if (RequiresGrad) suffixes.Add("requires_grad=True");
        return TensorFormatter.AddSuffixes(prefix + body, suffixes, prefix.Length);
    }
}

/// <summary>
/// PyTorch's printing rules (<c>torch/_tensor_str.py</c> with the default print options: precision 4,
/// threshold 1000, edgeitems 3, linewidth 80), applied to the row-major values of a tensor.
/// </summary>
internal static class TensorFormatter
{
    private const int Precision = 4, Threshold = 1000, EdgeItems = 3, LineWidth = 80;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// The bracketed values of a non-empty tensor: <paramref name="floats"/> for F32/F64, or the already
    /// printed elements (<paramref name="texts"/>) for integer and bool tensors. <paramref name="indent"/> is
    /// the column the opening bracket is printed at.
    /// </summary>
    public static string Format(double[]? floats, string[]? texts, int[] shape, int indent)
    {
        long count = floats?.Length ?? texts!.Length;
        bool summarize = count > Threshold;
        var shown = summarize ? SummarizedIndices(shape) : null;
        var formatter = new Formatter(floats, texts, shown);
        var sb = new StringBuilder();
        Append(sb, formatter, shape, 0, 0, indent, summarize);
        return sb.ToString();
    }

    /// <summary>The flat indices of the elements PyTorch's <c>get_summarized_data</c> keeps (the edge items of every dimension).</summary>
    private static List<long> SummarizedIndices(int[] shape)
    {
        var result = new List<long>();
        void Walk(int dim, long offset)
        {
            if (dim == shape.Length) { result.Add(offset); return; }
            long stride = 1;
            for (int d = dim + 1; d < shape.Length; d++) stride *= shape[d];
            int n = shape[dim];
            for (int i = 0; i < n; i++)
            {
                if (n > 2 * EdgeItems && i == EdgeItems) i = n - EdgeItems;
                Walk(dim + 1, offset + i * stride);
            }
        }
        Walk(0, 0);
        return result;
    }

    private static void Append(StringBuilder sb, Formatter f, int[] shape, int dim, long offset, int indent, bool summarize)
    {
        int rank = shape.Length;
        if (rank == 0)
        {
            sb.Append(f.Format(0));
            return;
        }
        long stride = 1;
        for (int d = dim + 1; d < rank; d++) stride *= shape[d];
        int n = shape[dim];
        bool cut = summarize && n > 2 * EdgeItems;
        if (dim == rank - 1)
        {
            // _vector_str: elements of equal width, as many per line as fit in the line width.
            var data = new List<string>();
            for (int i = 0; i < n; i++)
            {
                if (cut && i == EdgeItems) { data.Add(" ..."); i = n - EdgeItems; }
                data.Add(f.Format(offset + i));
            }
            int perLine = Math.Max(1, (LineWidth - indent) / (f.Width + 2));
            sb.Append('[');
            for (int i = 0; i < data.Count; i++)
            {
                if (i > 0) sb.Append(i % perLine == 0 ? ",\n" + new string(' ', indent + 1) : ", ");
                sb.Append(data[i]);
            }
            sb.Append(']');
            return;
        }
        // Sub-tensors one per line, separated by one blank line per extra dimension below this one.
        string separator = "," + new string('\n', rank - dim - 1) + new string(' ', indent + 1);
        sb.Append('[');
        for (int i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(separator);
            if (cut && i == EdgeItems)
            {
                sb.Append("...").Append(separator);
                i = n - EdgeItems;
            }
            Append(sb, f, shape, dim + 1, offset + i * stride, indent + 1, summarize);
        }
        sb.Append(']');
    }

    /// <summary>PyTorch's <c>_add_suffixes</c>: each suffix goes on the current line if it fits in the line width, else on a new one.</summary>
    public static string AddSuffixes(string text, IReadOnlyList<string> suffixes, int indent)
    {
        var sb = new StringBuilder(text);
        int lastLineLength = text.Length - text.LastIndexOf('\n') + 1;
        foreach (var suffix in suffixes)
        {
            if (lastLineLength + suffix.Length + 2 > LineWidth)
            {
                sb.Append(",\n").Append(' ', indent).Append(suffix);
                lastLineLength = indent + suffix.Length;
            }
            else
            {
                sb.Append(", ").Append(suffix);
                lastLineLength += suffix.Length + 2;
            }
        }
        return sb.Append(')').ToString();
    }

    /// <summary>PyTorch's <c>_Formatter</c>: one mode (integer, fixed or scientific) and one width for every element.</summary>
    private sealed class Formatter
    {
        private readonly double[]? _floats;
        private readonly string[]? _texts;
        private readonly bool _intMode = true;
        private readonly bool _sciMode;

        public int Width { get; } = 1;

        /// <param name="floats">Float values, or null.</param>
        /// <param name="texts">Printed integer/bool values, or null.</param>
        /// <param name="shown">The flat indices the mode and width are chosen from (the summarised data), or null for all.</param>
        public Formatter(double[]? floats, string[]? texts, IReadOnlyList<long>? shown)
        {
            _floats = floats;
            _texts = texts;
            long count = floats?.Length ?? texts!.Length;
            var indices = shown ?? (IEnumerable<long>)LongRange(count);
            if (texts is not null)
            {
                foreach (var i in indices) Width = Math.Max(Width, texts[i].Length);
                return;
            }
            var values = indices.Select(i => floats![i]).Where(v => double.IsFinite(v) && v != 0).ToArray();
            if (values.Length == 0) return;
            double min = values.Min(Math.Abs), max = values.Max(Math.Abs);
            _intMode = values.All(v => v == Math.Ceiling(v));
            if (_intMode)
            {
                _sciMode = max / min > 1000 || max > 1e8;
                foreach (var v in values) Width = Math.Max(Width, _sciMode ? Scientific(v).Length : FixedText(v, 0).Length + 1);
            }
            else
            {
                _sciMode = max / min > 1000 || max > 1e8 || min < 1e-4;
                foreach (var v in values) Width = Math.Max(Width, (_sciMode ? Scientific(v) : FixedText(v, Precision)).Length);
            }
        }

        private static IEnumerable<long> LongRange(long count)
        {
            for (long i = 0; i < count; i++) yield return i;
        }

        /// <summary>Element <paramref name="flat"/>, right-aligned to <see cref="Width"/>.</summary>
        public string Format(long flat)
        {
            string s;
            if (_texts is not null) s = _texts[flat];
            else
            {
                double v = _floats![flat];
                if (_sciMode) s = Scientific(v);
                else if (_intMode) s = double.IsFinite(v) ? FixedText(v, 0) + "." : FixedText(v, 0);
                else s = FixedText(v, Precision);
            }
            return s.Length >= Width ? s : new string(' ', Width - s.Length) + s;
        }

        private static string NonFinite(double v) => double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";

        /// <summary>Python's '{:.Nf}': correctly rounded, ties to even (as .NET's "F" format), nan/inf spelled as Python does.</summary>
        private static string FixedText(double v, int decimals) =>
            double.IsFinite(v) ? v.ToString("F" + decimals.ToString(Inv), Inv) : NonFinite(v);

        /// <summary>Python's '{:.4e}': four decimals and an exponent of at least two digits (1.0000e+04, 1.0000e-100).</summary>
        private static string Scientific(double v)
        {
            if (!double.IsFinite(v)) return NonFinite(v);
            var s = v.ToString("E" + Precision.ToString(Inv), Inv); // 1.0000E+004
            int e = s.IndexOf('E');
            int exponent = int.Parse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, Inv);
            return s[..e] + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", Inv);
        }
    }
}
