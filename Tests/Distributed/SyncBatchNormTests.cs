using Engine.Autograd;
using Engine.Distributed;
using Engine.Models.Distributed;
using Engine.Models.Nn;
using Engine.Randomness;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Engine.Tests.Distributed;

/// <summary>SyncBatchNorm's arithmetic in a world of one, where it must equal BatchNorm2d; the two-rank case runs under mpirun (MpiTests).</summary>
public class SyncBatchNormTests
{
    [Fact]
    public void Forward_gradients_and_running_statistics_equal_batchnorm_in_a_world_of_one()
    {
        using var scope = Tensor.Scope();
        using var group = new SingleProcessGroup();
        var x = Tensor.Randn([4, 3, 5, 2], DType.F64, generator: new Generator(5)).RequiresGradInPlace();
        var w = Tensor.Randn([3], DType.F64, generator: new Generator(6)).RequiresGradInPlace();
        var b = Tensor.Randn([3], DType.F64, generator: new Generator(7)).RequiresGradInPlace();
        var (rm1, rv1, n1) = (Tensor.Zeros([3], DType.F64), Tensor.Ones([3], DType.F64), Tensor.Zeros([], DType.I64));
        var (rm2, rv2, n2) = (Tensor.Zeros([3], DType.F64), Tensor.Ones([3], DType.F64), Tensor.Zeros([], DType.I64));
        var v = Tensor.Randn([4, 3, 5, 2], DType.F64, generator: new Generator(8));

        var expected = Engine.Ops.Functional.BatchNorm2d(x, rm1, rv1, w, b, training: true, momentum: 0.1, eps: 1e-5, numBatchesTracked: n1);
        expected.Mul(v).Sum().Backward();
        var grads = new[] { x, w, b }.Select(t => t.Grad!.ToArray<double>()).ToList();
        foreach (var t in new[] { x, w, b }) t.ZeroGrad();

        var actual = SyncBatchNorm.Forward(x, rm2, rv2, w, b, n2, 0.1, 1e-5, group);
        actual.Mul(v).Sum().Backward();
        static void Close(double[] e, double[] a, string what) =>
            Assert.True(e.Zip(a).All(p => Math.Abs(p.First - p.Second) <= 1e-12 * Math.Max(1, Math.Abs(p.First))), what);
        Close(expected.ToArray<double>(), actual.ToArray<double>(), "output");
        Close(grads[0], x.Grad!.ToArray<double>(), "grad input");
        Close(grads[1], w.Grad!.ToArray<double>(), "grad weight");
        Close(grads[2], b.Grad!.ToArray<double>(), "grad bias");
        Close(rm1.ToArray<double>(), rm2.ToArray<double>(), "running_mean");
        Close(rv1.ToArray<double>(), rv2.ToArray<double>(), "running_var");
        Assert.Equal(1L, n2.ToArray<long>()[0]);
    }

    [Fact]
    public void Gradient_property_in_float64()
    {
        Prop.ForAll(Gen.Choose(2, 4).ToArbitrary(), Gen.Choose(1, 3).ToArbitrary(), Gen.Choose(1, 3).ToArbitrary(), (n, c, hw) =>
        {
            using var scope = Tensor.Scope();
            using var group = new SingleProcessGroup();
            var x = Tensor.Randn([n, c, hw, 2], DType.F64, generator: new Generator((ulong)(n * 31 + c * 7 + hw)));
            var w = Tensor.Randn([c], DType.F64, generator: new Generator(2));
            var b = Tensor.Randn([c], DType.F64, generator: new Generator(3));
            var result = GradCheck.Check(xs => SyncBatchNorm.Forward(xs[0], null, null, xs[1], xs[2], null, 0.1, 1e-5, group), [x, w, b]);
            Assert.True(result.Passed, result.ToString());
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Convert_marks_every_batchnorm_and_a_single_value_per_channel_is_refused()
    {
        using var scope = Tensor.Scope();
        using var group = new SingleProcessGroup();
        using var model = new Sequential(new BatchNorm2d(2), new Sequential(new BatchNorm2d(2)));
        SyncBatchNorm.ConvertSyncBatchNorm(model, group);
        Assert.All(model.NamedModules().Select(m => m.Module).OfType<BatchNorm2d>(), bn => Assert.Same(group, bn.SyncGroup));
        var ex = Assert.Throws<ArgumentException>(() => SyncBatchNorm.Forward(Tensor.Zeros([1, 2]), null, null, null, null, null, 0.1, 1e-5, group));
        Assert.Contains("expected more than 1 value per channel", ex.Message);
    }
}
