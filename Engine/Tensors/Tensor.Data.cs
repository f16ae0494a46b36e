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
    /// Prints values the way PyTorch does (a common format for all elements, summarised with '...'
    /// beyond 1000 elements), followed by the shape, dtype and device.
    /// </summary>
    public override string ToString()
    {
        if (IsDisposed) return $"tensor(<disposed>, shape={Layout.Format(Layout.Shape)})";
        var sb = new StringBuilder("tensor(");
        var values = DType is DType.F32 or DType.F64 ? ToArray<double>() : DType == DType.I64 ? ToArray<long>().Select(v => (double)v).ToArray() : ToArray<bool>().Select(v => v ? 1.0 : 0.0).ToArray();
        bool summarize = NumEl > 1000;
        var fmt = TensorFormatter.Choose(values, DType, summarize ? Layout.Shape : null);
        TensorFormatter.Append(sb, values, Layout.Shape, 0, 0, fmt, summarize, indent: 7);
        sb.Append(", shape=").Append(Layout.Format(Layout.Shape));
        sb.Append(", dtype=").Append(DType.TorchName());
        sb.Append(", device=").Append(Device);
        if (GradFn is { } fn) sb.Append(", grad_fn=<").Append(fn.Op).Append('>');
        else if (RequiresGrad) sb.Append(", requires_grad=True");
        return sb.Append(')').ToString();
    }
}

/// <summary>PyTorch's printing rules: one width and precision for every element.</summary>
internal static class TensorFormatter
{
    private const int EdgeItems = 3;

    internal sealed record Format(Func<double, string> Render, int Width);

    public static Format Choose(double[] values, DType dtype, int[]? summarizedShape)
    {
        var inv = CultureInfo.InvariantCulture;
        if (dtype == DType.Bool) return Render(values, v => v != 0 ? "True" : "False");
        if (dtype == DType.I64) return Render(values, v => ((long)v).ToString(inv));
        var finite = values.Where(double.IsFinite).Select(Math.Abs).ToArray();
        Func<double, string> special = v => double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
        if (finite.Length == 0) return Render(values, special);
        bool integral = values.Where(double.IsFinite).All(v => v == Math.Floor(v));
        var nonzero = finite.Where(v => v != 0).ToArray();
        double max = finite.Max(), min = nonzero.Length > 0 ? nonzero.Min() : 0;
        if (integral && max < 1e8)
            return Render(values, v => double.IsFinite(v) ? v.ToString("0", inv) + "." : special(v));
        bool sci = max >= 1e8 || (min > 0 && (min < 1e-4 || max / min > 1000));
        if (sci) return Render(values, v => double.IsFinite(v) ? v.ToString("0.0000e+00", inv) : special(v));
        return Render(values, v => double.IsFinite(v) ? v.ToString("0.0000", inv) : special(v));
    }

    private static Format Render(double[] values, Func<double, string> render) =>
        new(render, values.Length == 0 ? 0 : values.Max(v => render(v).Length));

    public static void Append(StringBuilder sb, double[] values, int[] shape, int dim, long offset, Format fmt, bool summarize, int indent)
    {
        if (shape.Length == 0)
        {
            sb.Append(fmt.Render(values[0]));
            return;
        }
        long stride = 1;
        for (int d = dim + 1; d < shape.Length; d++) stride *= shape[d];
        int n = shape[dim];
        sb.Append('[');
        bool last = dim == shape.Length - 1;
        for (int i = 0; i < n; i++)
        {
            if (summarize && n > 2 * EdgeItems && i == EdgeItems)
            {
                sb.Append(last ? "..., " : "...,\n" + new string(' ', indent + dim + 1));
                if (!last && dim < shape.Length - 2) sb.Append('\n').Append(' ', indent + dim + 1);
                i = n - EdgeItems - 1;
                continue;
            }
            if (last) sb.Append(fmt.Render(values[offset + i]).PadLeft(fmt.Width));
            else Append(sb, values, shape, dim + 1, offset + i * stride, fmt, summarize, indent);
            if (i < n - 1)
            {
                sb.Append(',');
                if (last) sb.Append(' ');
                else sb.Append('\n', shape.Length - dim - 1).Append(' ', indent + dim + 1);
            }
        }
        sb.Append(']');
    }
}
