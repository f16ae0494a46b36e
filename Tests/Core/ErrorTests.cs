using Xunit;

namespace Engine.Tests.Core;

/// <summary>Errors name the operation and show what was wrong: both shapes, the dtypes, the devices.</summary>
public class ErrorTests
{
    /// <summary>A storage that claims to live on cuda:0, so device checks can be exercised without a GPU. It is never read.</summary>
    private sealed class FakeCudaStorage(long length, DType dtype) : Storage(length, dtype)
    {
        public override Device Device => Device.Cuda(0);
        protected override void Free() { }
    }

    private static Tensor OnCuda(int[] shape, DType dtype = DType.F32) =>
        new(new FakeCudaStorage(Layout.Count(shape), dtype), new Layout(shape), addRef: false);

    private static void ContainsAll(string message, params string[] parts)
    {
        foreach (var p in parts) Assert.Contains(p, message);
    }

    public static TheoryData<string, Func<Tensor, Tensor, Tensor>> BinaryOps() => new()
    {
        { "add", (a, b) => a + b },
        { "sub", (a, b) => a - b },
        { "mul", (a, b) => a * b },
        { "div", (a, b) => a / b },
        { "pow", (a, b) => a.Pow(b) },
        { "maximum", Tensor.Maximum },
        { "minimum", Tensor.Minimum },
        { "eq", (a, b) => a.Eq(b) },
        { "ne", (a, b) => a.Ne(b) },
        { "gt", (a, b) => a.Gt(b) },
        { "ge", (a, b) => a.Ge(b) },
        { "lt", (a, b) => a.Lt(b) },
        { "le", (a, b) => a.Le(b) },
    };

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void ShapeMismatchNamesTheOpAndBothShapes(string op, Func<Tensor, Tensor, Tensor> f)
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => f(Tensor.Zeros([2, 3]), Tensor.Zeros([5, 1, 4])));
        ContainsAll(e.Message, op, "[2, 3]", "[5, 1, 4]");
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void DTypeMismatchNamesTheOpTheDTypesAndBothShapes(string op, Func<Tensor, Tensor, Tensor> f)
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => f(Tensor.Zeros([2, 3], DType.F32), Tensor.Zeros([3], DType.F64)));
        ContainsAll(e.Message, op, "torch.float32", "torch.float64", "[2, 3]", "[3]");
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void DeviceMismatchNamesTheOpTheDevicesAndBothShapes(string op, Func<Tensor, Tensor, Tensor> f)
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => f(Tensor.Zeros([2, 3]), OnCuda([4, 3])));
        ContainsAll(e.Message, op, "cpu", "cuda:0", "[2, 3]", "[4, 3]");
    }

    [Fact]
    public void WhereMismatchesNameShapesDTypesAndDevices()
    {
        using var scope = Tensor.Scope();
        var cond = Tensor.Zeros([2, 3], DType.Bool);
        var shape = Assert.Throws<ArgumentException>(() => Tensor.Where(cond, Tensor.Zeros([4, 3]), Tensor.Zeros([3])));
        ContainsAll(shape.Message, "where", "[2, 3]", "[4, 3]", "[3]");
        var dtype = Assert.Throws<ArgumentException>(() => Tensor.Where(cond, Tensor.Zeros([3]), Tensor.Zeros([2, 1], DType.F64)));
        ContainsAll(dtype.Message, "where", "torch.float32", "torch.float64", "[3]", "[2, 1]");
        var device = Assert.Throws<ArgumentException>(() => Tensor.Where(cond, Tensor.Zeros([3]), OnCuda([3])));
        ContainsAll(device.Message, "where", "cpu", "cuda:0", "[3]");
        var c = Assert.Throws<ArgumentException>(() => Tensor.Where(Tensor.Zeros([2, 3]), Tensor.Zeros([3]), Tensor.Zeros([3])));
        ContainsAll(c.Message, "where", "torch.float32", "[2, 3]");
    }

    [Fact]
    public void MatMulAndCatMismatches()
    {
        using var scope = Tensor.Scope();
        var mm = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).MatMul(OnCuda([3, 4])));
        ContainsAll(mm.Message, "matmul", "cpu", "cuda:0", "[2, 3]", "[3, 4]");
        var mt = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).MatMul(Tensor.Zeros([3, 4], DType.F64)));
        ContainsAll(mt.Message, "matmul", "torch.float32", "torch.float64", "[2, 3]", "[3, 4]");
        var cd = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), OnCuda([2, 3])]));
        ContainsAll(cd.Message, "cat", "cpu", "cuda:0", "[2, 3]");
        var ct = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([1, 3], DType.I64)]));
        ContainsAll(ct.Message, "cat", "torch.float32", "torch.int64", "[2, 3]", "[1, 3]");
        var cs = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([2, 4])], 0));
        ContainsAll(cs.Message, "cat", "[2, 4]");
    }

    [Fact]
    public void InPlaceMismatches()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        var dev = Assert.Throws<ArgumentException>(() => x.AddInPlace(OnCuda([3])));
        ContainsAll(dev.Message, "add_", "cpu", "cuda:0", "[2, 3]", "[3]");
        var shape = Assert.Throws<ArgumentException>(() => x.CopyFrom(Tensor.Zeros([4])));
        ContainsAll(shape.Message, "[4]", "[2, 3]");
        var dt = Assert.Throws<ArgumentException>(() => x.AddInPlace(Tensor.Zeros([3], DType.F64)));
        ContainsAll(dt.Message, "add_", "torch.float32", "torch.float64");
    }

    [Fact]
    public void IndexMismatches()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([4, 3]);
        var dev = Assert.Throws<ArgumentException>(() => x.IndexSelect(0, OnCuda([2], DType.I64)));
        ContainsAll(dev.Message, "index_select", "cpu", "cuda:0");
        var dt = Assert.Throws<ArgumentException>(() => x.Gather(1, Tensor.Zeros([4, 3], DType.F32)));
        ContainsAll(dt.Message, "gather", "int64", "torch.float32");
    }

    public static TheoryData<string, Action<Tensor>> UsesOfADisposedTensor() => new()
    {
        { "add", t => _ = t + t },
        { "exp", t => t.Exp() },
        { "sum", t => t.Sum() },
        { "max", t => t.Max() },
        { "view", t => t.View(6) },
        { "reshape", t => t.Reshape(3, 2) },
        { "permute", t => t.Permute(1, 0) },
        { "slice", t => t.Slice(0, 0, 1) },
        { "expand", t => t.Expand(4, 2, 3) },
        { "squeeze", t => t.Squeeze() },
        { "unsqueeze", t => t.Unsqueeze(0) },
        { "contiguous", t => t.Contiguous() },
        { "clone", t => t.Clone() },
        { "to", t => t.ToDType(DType.F64) },
        { "to_array", t => t.ToArray<float>() },
        { "matmul", t => t.MatMul(t) },
        { "eq", t => t.Eq(t) },
        { "cat", t => Tensor.Cat([t, t]) },
        { "pad", t => t.Pad([1, 1]) },
        { "fill_", t => t.Fill(1) },
        { "detach", t => t.Detach() },
        { "where", t => Tensor.Where(Tensor.Ones([2, 3], DType.Bool), t, t) },
        { "masked_fill", t => t.MaskedFill(Tensor.Ones([2, 3], DType.Bool), 0) },
    };

    [Theory]
    [MemberData(nameof(UsesOfADisposedTensor))]
    public void UsingADisposedTensorThrowsNamingTheOp(string op, Action<Tensor> use)
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Ones([2, 3]);
        // A live view keeps the memory alive, so only the handle's own state can catch the mistake.
        var keepAlive = x.View(6);
        x.Dispose();
        Assert.True(x.IsDisposed);
        Assert.False(x.Storage.IsReleased);
        var e = Assert.Throws<ObjectDisposedException>(() => use(x));
        ContainsAll(e.Message, op, "[2, 3]", "disposed");
        Assert.Equal(6, keepAlive.ToArray<float>().Length);
    }

    [Fact]
    public void DisposingTwiceIsHarmlessAndTheMemoryGoesWithTheLastHandle()
    {
        var x = Tensor.Ones([4]);
        var v = x.View(2, 2);
        x.Dispose();
        x.Dispose();
        Assert.False(v.Storage.IsReleased);
        v.Dispose();
        Assert.True(v.Storage.IsReleased);
    }

    [Fact]
    public void OnlyFloatingPointTensorsCanRequireGrad()
    {
        using var scope = Tensor.Scope();
        var i = Tensor.Zeros([2], DType.I64);
        var e = Assert.Throws<InvalidOperationException>(() => i.RequiresGrad = true);
        ContainsAll(e.Message, "RequiresGrad", "torch.int64");
        Assert.False(i.RequiresGrad);
        var b = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2], DType.Bool).RequiresGradInPlace());
        ContainsAll(b.Message, "torch.bool");
        Tensor.Zeros([2], DType.I64).RequiresGrad = false; // switching it off is always allowed on a leaf
        var f = Tensor.Zeros([2], DType.F32).RequiresGradInPlace();
        Assert.True(f.RequiresGrad);
        var y = f.Exp();
        var nl = Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        ContainsAll(nl.Message, "leaf");
    }

    [Fact]
    public void GradOfTheWrongShapeOrDTypeIsRejected()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3], DType.F64);
        var e = Assert.Throws<ArgumentException>(() => x.Grad = Tensor.Zeros([3, 2], DType.F64));
        ContainsAll(e.Message, "Grad", "[3, 2]", "[2, 3]");
        var d = Assert.Throws<ArgumentException>(() => x.Grad = Tensor.Zeros([2, 3], DType.F32));
        ContainsAll(d.Message, "torch.float32", "torch.float64");
    }

    [Fact]
    public void DimensionOutOfRangeNamesTheOpAndTheRange()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => x.Sum(2));
        ContainsAll(e.Message, "sum", "[-2, 1]", "2");
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, -3)).Message, "transpose", "-3");
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => x.Size(5)).Message, "size");
        ContainsAll(Assert.Throws<ArgumentOutOfRangeException>(() => x.ArgMax(7)).Message, "argmax");
    }

    [Fact]
    public void SelectingFromAZeroDimTensorIsAnError()
    {
        using var scope = Tensor.Scope();
        var s = Tensor.Scalar(1);
        ContainsAll(Assert.Throws<ArgumentException>(() => s.Select(0, 0)).Message, "select", "0-dim");
        ContainsAll(Assert.Throws<ArgumentException>(() => s.Narrow(0, 0, 1)).Message, "narrow", "0-dim");
        ContainsAll(Assert.Throws<ArgumentException>(() => s.Split(1)).Message, "split", "0-dim");
        ContainsAll(Assert.Throws<ArgumentException>(() => s.Chunk(1)).Message, "chunk", "0-dim");
    }
}
