using System.Text;
using Engine.Backends;

namespace Engine.Cuda.Kernels;

/// <summary>
/// The CUDA kernels of the elementwise ops, generated from the op declarations themselves: each
/// <see cref="IUnaryOp"/>, <see cref="IBinaryOp"/> and <see cref="ICompareOp"/> carries its formula as a
/// CUDA C expression beside its C# formula, and one template per kind turns it into kernels named
/// <c>unary_&lt;op&gt;_&lt;dtype&gt;</c>, <c>unary_backward_&lt;op&gt;_&lt;dtype&gt;</c>,
/// <c>binary_&lt;op&gt;_&lt;dtype&gt;</c> and <c>compare_&lt;op&gt;_&lt;dtype&gt;</c>. Each op is one unit,
/// compiled on first use and cached like any other. Operands are strided (broadcast operands have stride 0).
/// </summary>
public static class ElementwiseSource
{
    private static readonly (string C, string Suffix)[] FloatTypes = [("float", "f32"), ("double", "f64")];
    private static readonly (string C, string Suffix)[] AllTypes = [("float", "f32"), ("double", "f64"), ("i64", "i64"), ("u8", "bool")];

    /// <summary>The kernel-name part of an op type: <c>PowScalarOp</c> → <c>pow_scalar</c>, unique where op names are not (two ops print as "pow").</summary>
    public static string Id(Type op)
    {
        var name = op.Name.EndsWith("Op", StringComparison.Ordinal) ? op.Name[..^2] : op.Name;
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }

    /// <summary>The unit of a unary op (forward and fused backward, F32 and F64), or null when it declares no CUDA formula.</summary>
    public static string? Unary<TOp>() where TOp : IUnaryOp =>
        TOp.CudaForward is { } forward && TOp.CudaDerivative is { } derivative ? Unary(Id(typeof(TOp)), typeof(TOp).FullName!, forward, derivative, TOp.CudaBackward) : null;

    /// <summary>The unit of a binary op (F32 and F64), or null when it declares no CUDA formula.</summary>
    public static string? Binary<TOp>() where TOp : IBinaryOp =>
        TOp.Cuda is { } expression ? Binary(Id(typeof(TOp)), typeof(TOp).FullName!, expression) : null;

    /// <summary>The unit of a comparison (all four dtypes, Bool result).</summary>
    public static string Compare<TOp>() where TOp : ICompareOp => Compare(Id(typeof(TOp)), typeof(TOp).FullName!, TOp.Cuda);

    /// <summary>
    /// The generated unit of every elementwise op declared in <paramref name="assembly"/> that has a CUDA
    /// formula, as (file name, source): <c>generated/unary_exp.cu</c>, <c>generated/binary_add.cu</c>, ...
    /// </summary>
    public static IEnumerable<(string File, string Source)> DeclaredIn(System.Reflection.Assembly assembly)
    {
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (System.Reflection.ReflectionTypeLoadException e) { types = e.Types.Where(t => t is not null).ToArray()!; }
        var kinds = new (Type Interface, string Kind, string Method)[]
        {
            (typeof(IUnaryOp), "unary", nameof(Unary)), (typeof(IBinaryOp), "binary", nameof(Binary)), (typeof(ICompareOp), "compare", nameof(Compare)),
        };
        foreach (var type in types.Where(t => t.IsValueType && !t.IsGenericTypeDefinition).OrderBy(t => t.FullName, StringComparer.Ordinal))
            foreach (var (iface, kind, method) in kinds)
            {
                if (!iface.IsAssignableFrom(type)) continue;
                var generate = typeof(ElementwiseSource).GetMethod(method, 1, Type.EmptyTypes)!.MakeGenericMethod(type);
                if (generate.Invoke(null, null) is string source) yield return ($"generated/{kind}_{Id(type)}.cu", source);
            }
    }

    /// <summary>The unit name a generated op is cached under.</summary>
    public static string UnitName(string kind, Type op) => $"{kind}:{Id(op)}";

    internal static string Unary(string id, string declaredBy, string forward, string derivative, string? backward = null)
    {
        var sb = Header(declaredBy);
        // The scalar parameters arrive in the tensor's dtype, rounded as the CPU rounds them, then widen.
        sb.Append($"__device__ __forceinline__ double {id}_forward(double x, double a, double b) {{ return {forward}; }}\n");
        sb.Append($"__device__ __forceinline__ double {id}_derivative(double x, double y, double a, double b) {{ return {derivative}; }}\n");
        sb.Append($"__device__ __forceinline__ double {id}_backward(double g, double x, double y, double a, double b) {{ return {backward ?? $"g * {id}_derivative(x, y, a, b)"}; }}\n\n");
        foreach (var (t, suffix) in FloatTypes)
        {
            sb.Append($"extern \"C\" __global__ void unary_{id}_{suffix}(const {t}* x, Strided lx, {t}* y, Strided ly, {t} a, {t} b, i64 n)\n{{\n");
            sb.Append($"    GRID_STRIDE_LOOP(i, n) y[strided_offset(ly, i)] = ({t}){id}_forward((double)x[strided_offset(lx, i)], (double)a, (double)b);\n}}\n");
            sb.Append($"extern \"C\" __global__ void unary_backward_{id}_{suffix}(const {t}* g, Strided lg, const {t}* x, Strided lx, const {t}* y, Strided ly,\n");
            sb.Append($"    {t}* gx, Strided lgx, {t} a, {t} b, i64 n)\n{{\n");
            sb.Append($"    GRID_STRIDE_LOOP(i, n)\n        gx[strided_offset(lgx, i)] = ({t}){id}_backward((double)g[strided_offset(lg, i)],\n");
            sb.Append($"            (double)x[strided_offset(lx, i)], (double)y[strided_offset(ly, i)], (double)a, (double)b);\n}}\n");
        }
        return sb.ToString();
    }

    internal static string Binary(string id, string declaredBy, string expression)
    {
        var sb = Header(declaredBy);
        sb.Append($"__device__ __forceinline__ double {id}_forward(double x, double y) {{ return {expression}; }}\n\n");
        foreach (var (t, suffix) in FloatTypes)
        {
            sb.Append($"extern \"C\" __global__ void binary_{id}_{suffix}(const {t}* x, Strided lx, const {t}* y, Strided ly, {t}* z, Strided lz, i64 n)\n{{\n");
            sb.Append($"    GRID_STRIDE_LOOP(i, n) z[strided_offset(lz, i)] = ({t}){id}_forward((double)x[strided_offset(lx, i)], (double)y[strided_offset(ly, i)]);\n}}\n");
        }
        return sb.ToString();
    }

    internal static string Compare(string id, string declaredBy, string expression)
    {
        var sb = Header(declaredBy);
        foreach (var (t, suffix) in AllTypes)
        {
            sb.Append($"__device__ __forceinline__ bool {id}_{suffix}_test({t} x, {t} y) {{ return {expression}; }}\n");
            sb.Append($"extern \"C\" __global__ void compare_{id}_{suffix}(const {t}* x, Strided lx, const {t}* y, Strided ly, u8* z, Strided lz, i64 n)\n{{\n");
            sb.Append($"    GRID_STRIDE_LOOP(i, n) z[strided_offset(lz, i)] = {id}_{suffix}_test(x[strided_offset(lx, i)], y[strided_offset(ly, i)]) ? 1 : 0;\n}}\n");
        }
        return sb.ToString();
    }

    private static StringBuilder Header(string declaredBy)
    {
        var sb = new StringBuilder(KernelSource.Assemble(KernelSource.Prelude));
        sb.Append($"#line 1 \"{declaredBy}\"\n");
        sb.Append($"// Generated from the CUDA formula declared by {declaredBy}.\n");
        return sb;
    }
}
