using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using static Engine.Ops.AdaptiveFilterKernels;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// A block-diagonal complex linear map over the channels, applied at every position (AFFNet's mask
    /// MLP layer, the reference's einsum 'bkihw,kio->bkohw' on real and imaginary parts):
    /// out[b, g·dOut + o, p] = Σ_i in[b, g·dIn + i, p]·(weight[0,g,i,o] + i·weight[1,g,i,o]) + (bias[0,g,o] + i·bias[1,g,o]).
    /// Complex values are real and imaginary parts in a trailing dimension of size 2.
    /// </summary>
    /// <param name="input">Tensor of shape (N, G·dIn, *, 2).</param>
    /// <param name="weight">Tensor of shape (2, G, dIn, dOut): real part [0] and imaginary part [1], laid out (group, in, out).</param>
    /// <param name="bias">Optional tensor of shape (2, G, dOut).</param>
    public static Tensor ComplexGroupLinear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        const string op = "complex_group_linear";
        FamilyGuards.Float(op, input);
        FamilyGuards.Float(op, weight, "weight");
        if (bias is not null) FamilyGuards.Float(op, bias, "bias");
        FamilyGuards.SameDevice(op, input, weight, "input", "weight");
        if (bias is not null) FamilyGuards.SameDevice(op, input, bias, "input", "bias");
        var shape = input.Layout.Shape;
        var ws = weight.Layout.Shape;
        string Shapes() => $"input of shape {Layout.Format(shape)}, weight of shape {Layout.Format(ws)}" + (bias is null ? "" : $", bias of shape {Layout.Format(bias.Layout.Shape)}");
        if (shape.Length < 3 || shape[^1] != 2)
            throw new ArgumentException($"{op}: expected input of shape (N, C, *, 2) with a trailing dimension of size 2, got {Shapes()}.");
        if (ws.Length != 4 || ws[0] != 2 || ws[1] < 1 || shape[1] != ws[1] * ws[2])
            throw new ArgumentException($"{op}: expected weight of shape (2, G, C/G, dOut) with C = {shape[1]} input channels, got {Shapes()}.");
        if (bias is not null && !bias.Layout.Shape.AsSpan().SequenceEqual([2, ws[1], ws[3]]))
            throw new ArgumentException($"{op}: expected bias of shape (2, {ws[1]}, {ws[3]}), got {Shapes()}.");
        if (weight.DType != input.DType || (bias is not null && bias.DType != input.DType))
            throw new ArgumentException($"{op}: expected weight and bias of the input's dtype {input.DType.TorchName()}, got {Shapes()}.");

        var s = new GroupShape(shape[0], ws[1], ws[2], ws[3], Layout.Count(shape.AsSpan(2, shape.Length - 3)));
        int[] outShape = (int[])shape.Clone();
        outShape[1] = s.Groups * s.Out;
        long t0 = Stopwatch.GetTimestamp();
        var y = Tensor.Empty(outShape, input.DType, input.Device);
        var x = FamilyGuards.Dense(input);
        using (var w = FamilyGuards.Dense(weight))
        using (var b = bias is null ? null : FamilyGuards.Dense(bias))
            GroupLinearForward(x, w, b, y, s);
        if (!Tape.ShouldRecord(input, weight, bias)) { x.Dispose(); return y; }

        var sx = Tape.Save(x); var sw = Tape.Save(weight);
        x.Dispose();
        bool needX = input.RequiresGrad, needW = weight.RequiresGrad, needB = bias is { RequiresGrad: true };
        var dtype = input.DType;
        Tape.Record(op, [input, weight, bias], [y], g =>
        {
            using var gc = g[0].ContiguousHandle();
            using var w = sw.Value.ContiguousHandle();
            var dx = needX ? Tensor.Empty(shape, dtype, gc.Device) : null;
            var dw = needW ? Tensor.Zeros(ws, dtype, gc.Device) : null;
            var db = needB ? Tensor.Zeros([2, s.Groups, s.Out], dtype, gc.Device) : null;
            if (dx is not null) GroupLinearInputGrad(gc, w, dx, s);
            if (dw is not null || db is not null) GroupLinearParamGrad(sx.Value, gc, dw, db, s);
            return [dx, dw, db];
        }, [sx, sw], t0);
        return y;
    }

    /// <summary>
    /// The elementwise complex product a ⊙ b of two tensors of the same shape (*, 2) holding real and
    /// imaginary parts in the trailing dimension. Gradients: g ⊙ conj(b) and g ⊙ conj(a).
    /// </summary>
    public static Tensor ComplexMul(Tensor a, Tensor b)
    {
        const string op = "complex_mul";
        FamilyGuards.Float(op, a, "a");
        FamilyGuards.Float(op, b, "b");
        FamilyGuards.SameDevice(op, a, b, "a", "b");
        var shape = a.Layout.Shape;
        if (shape.Length < 1 || shape[^1] != 2 || !shape.AsSpan().SequenceEqual(b.Layout.Shape) || a.DType != b.DType)
            throw new ArgumentException($"{op}: expected a and b of the same shape (*, 2) and dtype, got a of shape {Layout.Format(shape)} ({a.DType.TorchName()}) and b of shape {Layout.Format(b.Layout.Shape)} ({b.DType.TorchName()}).");
        long pairs = a.NumEl / 2;
        long t0 = Stopwatch.GetTimestamp();
        var y = Tensor.Empty(shape, a.DType, a.Device);
        var ac = FamilyGuards.Dense(a);
        var bc = FamilyGuards.Dense(b);
        ComplexMulForward(ac, bc, y, pairs);
        if (!Tape.ShouldRecord(a, b)) { ac.Dispose(); bc.Dispose(); return y; }

        bool needA = a.RequiresGrad, needB = b.RequiresGrad;
        var sa = Tape.Save(ac); var sb = Tape.Save(bc);
        ac.Dispose(); bc.Dispose();
        var dtype = a.DType;
        Tape.Record(op, [a, b], [y], g =>
        {
            using var gc = g[0].ContiguousHandle();
            var da = needA ? Tensor.Empty(shape, dtype, gc.Device) : null;
            var db = needB ? Tensor.Empty(shape, dtype, gc.Device) : null;
            using var av = sa.Value.ContiguousHandle();
            using var bv = sb.Value.ContiguousHandle();
            ComplexMulBackward(gc, av, bv, da, db, pairs);
            return [da, db];
        }, [sa, sb], t0);
        return y;
    }

    /// <summary>
    /// AFFNet's adaptive frequency filter, the AFF token mixer (reference class AFNO2D_channelfirst), on
    /// NCHW input: X = rfft2(x, ortho); M = softshrink(L2(φ(L1(X))), lambd) with L1, L2 the complex
    /// group-linears of <see cref="ComplexGroupLinear"/> and φ applied to real and imaginary parts
    /// separately; returns x + irfft2(M ⊙ X, s = (H, W), ortho): the residual is part of the mixer.
    /// </summary>
    /// <param name="input">Tensor of shape (N, C, H, W).</param>
    /// <param name="w1">First layer's weight, (2, G, C/G, C/G).</param>
    /// <param name="b1">First layer's bias, (2, G, C/G).</param>
    /// <param name="w2">Second layer's weight, (2, G, C/G, C/G).</param>
    /// <param name="b2">Second layer's bias, (2, G, C/G).</param>
    /// <param name="lambd">The soft-shrink threshold of the mask.</param>
    /// <param name="activation">φ: "silu" (or "swish"), "relu", "gelu", "hardswish" or "identity".</param>
    public static Tensor AdaptiveFrequencyFilter(Tensor input, Tensor w1, Tensor b1, Tensor w2, Tensor b2, double lambd = 0.01, string activation = "silu")
    {
        const string op = "adaptive_frequency_filter";
        FamilyGuards.Float(op, input);
        if (input.Rank != 4)
            throw new ArgumentException($"{op}: expected input of shape (N, C, H, W), got input of shape {Layout.Format(input.Layout.Shape)}.");
        int h = input.Shape[2], w = input.Shape[3];
        var spectrum = Rfft2(input, "ortho");
        var hidden = ComplexGroupLinear(spectrum, w1, b1);
        hidden = activation switch
        {
            "silu" or "swish" => Silu(hidden),
            "relu" => hidden.Relu(),
            "gelu" => Gelu(hidden),
            "hardswish" => Hardswish(hidden),
            "identity" => hidden,
            _ => throw new ArgumentException($"{op}: unknown activation '{activation}' (input of shape {Layout.Format(input.Layout.Shape)})."),
        };
        var mask = Softshrink(ComplexGroupLinear(hidden, w2, b2), lambd);
        return input + Irfft2(ComplexMul(mask, spectrum), [h, w], "ortho");
    }

    private static void GroupLinearForward(Tensor x, Tensor w, Tensor? b, Tensor y, GroupShape s)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: AdaptiveFilterCpu.LinearForward(x, w, b, y, s); break;
            case DeviceType.Cuda: AdaptiveFilterCuda.LinearForward(x, w, b, y, s); break;
            default: throw Kernel.Missing("complex_group_linear", x);
        }
    }

    private static void GroupLinearInputGrad(Tensor g, Tensor w, Tensor dx, GroupShape s)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: AdaptiveFilterCpu.LinearInputGrad(g, w, dx, s); break;
            case DeviceType.Cuda: AdaptiveFilterCuda.LinearInputGrad(g, w, dx, s); break;
            default: throw Kernel.Missing("complex_group_linear_backward", g);
        }
    }

    /// <summary>The weight and bias gradients (either may be null), written into zeroed tensors.</summary>
    private static void GroupLinearParamGrad(Tensor x, Tensor g, Tensor? dw, Tensor? db, GroupShape s)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: AdaptiveFilterCpu.LinearParamGrad(x, g, dw, db, s); break;
            case DeviceType.Cuda: AdaptiveFilterCuda.LinearParamGrad(x, g, dw, db, s); break;
            default: throw Kernel.Missing("complex_group_linear_backward", g);
        }
    }

    private static void ComplexMulForward(Tensor a, Tensor b, Tensor y, long pairs)
    {
        switch (a.Device.Type)
        {
            case DeviceType.Cpu: AdaptiveFilterCpu.Multiply(a, b, y, pairs); break;
            case DeviceType.Cuda: AdaptiveFilterCuda.Multiply(a, b, y, pairs); break;
            default: throw Kernel.Missing("complex_mul", a);
        }
    }

    private static void ComplexMulBackward(Tensor g, Tensor a, Tensor b, Tensor? da, Tensor? db, long pairs)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: AdaptiveFilterCpu.MultiplyGrad(g, a, b, da, db, pairs); break;
            case DeviceType.Cuda: AdaptiveFilterCuda.MultiplyGrad(g, a, b, da, db, pairs); break;
            default: throw Kernel.Missing("complex_mul_backward", g);
        }
    }
}
