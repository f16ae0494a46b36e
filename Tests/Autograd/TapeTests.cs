using Engine.Autograd;
using Xunit;

namespace Engine.Tests.Autograd;

public class TapeTests
{
    private static Tensor Leaf(params double[] v) => Tensor.FromArray(v).RequiresGradInPlace();

    [Fact]
    public void GradientsAccumulateWhereATensorFeedsSeveralOps()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(2, -3);
        // y = x*x + 3x + x  =>  dy/dx = 2x + 4
        var y = (x * x + x * 3.0 + x).Sum();
        y.Backward();
        Assert.Equal(new[] { 8.0, -2.0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void LeafGradientsAccumulateAcrossBackwardCallsUntilZeroGrad()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        (x * 5.0).Sum().Backward();
        (x * 5.0).Sum().Backward();
        Assert.Equal(new[] { 10.0, 10.0 }, x.Grad!.ToArray<double>());
        x.ZeroGrad();
        Assert.Null(x.Grad);
        (x * 2.0).Sum().Backward();
        Assert.Equal(new[] { 2.0, 2.0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void BackwardWithExplicitGradient()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2, 3);
        var y = x * 2.0;
        y.Backward(Tensor.FromArray(new double[] { 1, 10, 100 }));
        Assert.Equal(new[] { 2.0, 20.0, 200.0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void BackwardFromNonScalarWithoutGradientIsAClearError()
    {
        using var scope = Tensor.Scope();
        var y = Leaf(1, 2) * 2.0;
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("scalar", e.Message);
        Assert.Contains("[2]", e.Message);
    }

    [Fact]
    public void BackwardWithWrongGradientShapeNamesBothShapes()
    {
        using var scope = Tensor.Scope();
        var y = Leaf(1, 2) * 2.0;
        var e = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones([3], DType.F64)));
        Assert.Contains("[3]", e.Message);
        Assert.Contains("[2]", e.Message);
    }

    [Fact]
    public void SecondBackwardThroughFreedGraphIsAnError()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var y = (x.Exp() * x).Sum();
        y.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("second time", e.Message);
        Assert.Contains("retainGraph", e.Message);
    }

    [Fact]
    public void RetainGraphAllowsASecondBackward()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var y = (x.Exp() * x).Sum();
        y.Backward(retainGraph: true);
        var first = x.Grad!.ToArray<double>();
        y.Backward();
        var second = x.Grad!.ToArray<double>();
        for (int i = 0; i < 2; i++) Assert.Equal(2 * first[i], second[i], 12);
        Assert.Equal(Math.Exp(1) * 2, first[0], 12); // d/dx x e^x = (1+x) e^x
    }

    [Fact]
    public void InPlaceChangeOfASavedTensorIsDetected()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var e = x.Exp();           // exp saves its output
        var y = (e * 1.0).Exp().Sum();
        using (Tape.NoGrad()) { }
        var w = e.Detach();        // shares storage with e
        w.Fill(0);                 // an in-place write through another handle
        var err = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("in-place", err.Message);
        Assert.Contains("version", err.Message);
    }

    [Fact]
    public void InPlaceOnLeafThatRequiresGradIsRefused()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var e = Assert.Throws<InvalidOperationException>(() => x.Fill(3));
        Assert.Contains("leaf", e.Message);
        using (Tape.NoGrad()) x.Fill(3);
        Assert.Equal(new[] { 3.0, 3.0 }, x.ToArray<double>());
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        Tensor y;
        using (Tape.NoGrad()) y = x * 2.0;
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        var z = x * 2.0;
        Assert.True(z.RequiresGrad);
        Assert.Equal("affine", z.GradFn!.Op);
    }

    [Fact]
    public void DetachCutsTheTape()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var d = (x * 3.0).Detach();
        Assert.False(d.RequiresGrad);
        var y = (x * d).Sum();     // d is a constant: dy/dx = d = 3x
        y.Backward();
        Assert.Equal(new[] { 3.0, 6.0 }, x.Grad!.ToArray<double>());
    }

    [Fact]
    public void RecordsOnlyWhenAnInputRequiresGrad()
    {
        using var scope = Tensor.Scope();
        var a = Tensor.FromArray(new double[] { 1, 2 });
        var b = a.Exp();
        Assert.Null(b.GradFn);
        Assert.False(b.RequiresGrad);
    }

    [Fact]
    public void SavedTensorsAreFreedOnceTheBackwardRan()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var y = (x.Exp() * x).Sum();
        var nodes = Tape.NodesOf(y);
        Assert.Contains(nodes, n => n.SavedBytes > 0);
        y.Backward();
        Assert.All(nodes, n => Assert.True(n.IsReleased));
        Assert.All(nodes, n => Assert.Equal(0, n.SavedBytes));
    }

    [Fact]
    public void TheTapeListsNodesInForwardOrder()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(1, 2);
        var y = (x.Exp() + x.Sin()).Sum();
        var ops = Tape.NodesOf(y).Select(n => n.Op).ToArray();
        Assert.Equal(new[] { "exp", "sin", "add", "sum" }, ops);
    }

    [Fact]
    public void DeepGraphsDoNotOverflowTheStack()
    {
        using var scope = Tensor.Scope();
        var x = Leaf(0.5);
        var y = x;
        for (int i = 0; i < 20_000; i++) y = y * 1.0;
        y.Sum().Backward();
        Assert.Equal(1.0, x.Grad!.Item());
    }

    [Fact]
    public void OnlyLeavesMayChangeRequiresGrad()
    {
        using var scope = Tensor.Scope();
        var y = Leaf(1) * 2.0;
        Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        Assert.Throws<InvalidOperationException>(() => Tensor.FromArray(new long[] { 1 }).RequiresGrad = true);
    }
}

[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class LifetimeTests
{
    /// <summary>
    /// 10,000 forward/backward steps inside scopes: the number of live tensor handles and the bytes held
    /// by CPU storages return to the same level after every step.
    /// </summary>
    [Fact]
    public void TenThousandStepsInScopesKeepMemoryFlat()
    {
        var w = Tensor.Randn([16, 8], DType.F64).RequiresGradInPlace();
        var b = Tensor.Zeros([8], DType.F64).RequiresGradInPlace();
        var input = Tensor.Randn([4, 16], DType.F64);
        long liveAfterWarmup = 0, bytesAfterWarmup = 0;
        for (int step = 0; step < 10_000; step++)
        {
            using (var scope = Tensor.Scope())
            {
                var h = input.MatMul(w) + b;
                var loss = (h.Tanh() * h.Sigmoid()).Mean();
                loss.Backward();
                using (Tape.NoGrad())
                {
                    w.AddInPlace(w.Grad!, -1e-3);
                    b.AddInPlace(b.Grad!, -1e-3);
                }
                w.ZeroGrad();
                b.ZeroGrad();
            }
            if (step == 10)
            {
                // Storages other tests never disposed are freed by finalizers on their own thread; let
                // them all run now, so that only this loop can change the figures from here on.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                liveAfterWarmup = Tensor.LiveCount;
                bytesAfterWarmup = CpuStorage.LiveBytes;
            }
            if (step > 10 && step % 1000 == 0)
            {
                Assert.Equal(liveAfterWarmup, Tensor.LiveCount);
                Assert.Equal(bytesAfterWarmup, CpuStorage.LiveBytes);
            }
        }
        Assert.Equal(liveAfterWarmup, Tensor.LiveCount);
        Assert.Equal(bytesAfterWarmup, CpuStorage.LiveBytes);
        w.Dispose(); b.Dispose(); input.Dispose();
    }

    [Fact]
    public void ScopeDisposesEverythingButWhatMovesOut()
    {
        Tensor kept, dropped;
        using (var scope = Tensor.Scope())
        {
            dropped = Tensor.Ones([3]);
            kept = (dropped * 2.0).MoveToOuterScope();
        }
        Assert.True(dropped.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal(new float[] { 2, 2, 2 }, kept.ToArray<float>());
        kept.Dispose();
    }

    [Fact]
    public void StorageIsFreedWithItsLastView()
    {
        using var scope = Tensor.Scope();
        var t = Tensor.Zeros([1000], DType.F64);
        var v = t.Slice(0, 10, 20);
        t.Dispose();
        Assert.False(t.Storage.IsReleased);
        Assert.Equal(new double[10], v.ToArray<double>());
        v.Dispose();
        Assert.True(t.Storage.IsReleased);
    }
}

public class TapePrinterTests
{
    [Fact]
    public void PrintsOneRowPerNodeWithShapesAndSources()
    {
        using var scope = Tensor.Scope();
        var w = Tensor.Randn([3, 2], DType.F64).RequiresGradInPlace();
        w.Name = "w";
        var x = Tensor.Randn([4, 3], DType.F64);
        var loss = x.MatMul(w).Tanh().Sum();
        var text = TapePrinter.Format(loss);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + Tape.NodesOf(loss).Count, lines.Length);
        Assert.Contains("matmul", text);
        Assert.Contains("<w", text);
        Assert.Contains("[4, 2]", text);
        var dot = TapePrinter.ToDot(loss);
        Assert.StartsWith("digraph tape {", dot);
        Assert.Contains("-> n", dot);
        Assert.Contains("tanh", TapePrinter.Summary(loss));
    }
}
