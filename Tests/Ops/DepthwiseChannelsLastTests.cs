using Xunit;
using static Engine.Tests.Core.Reference;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>The channels-last depthwise convolution against <c>conv2d</c> with groups = C on the NCHW permutation.</summary>
public class DepthwiseChannelsLastTests
{
    [Theory]
    [InlineData(2, 8, 8, 16, 3, 3, true)]
    [InlineData(3, 4, 5, 7, 3, 3, false)]
    [InlineData(2, 1, 1, 9, 3, 3, true)]
    [InlineData(1, 6, 3, 5, 5, 1, true)]
    [InlineData(2, 2, 7, 33, 1, 3, true)]
    [InlineData(0, 3, 3, 4, 3, 3, true)]
    public void MatchesGroupedConv2dForwardAndBackward(int n, int h, int w, int c, int kh, int kw, bool withBias)
    {
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            using var scope = Tensor.Scope();
            var gen = new Engine.Randomness.Generator(21);
            var x = Tensor.Randn([n, h, w, c], dtype, generator: gen); x.RequiresGrad = true;
            var wt = Tensor.Randn([c, 1, kh, kw], dtype, generator: gen); wt.RequiresGrad = true;
            var b = withBias ? Tensor.Randn([c], dtype, generator: gen) : null;
            if (b is not null) b.RequiresGrad = true;
            var gy = Tensor.Randn([n, h, w, c], dtype, generator: gen);
            double tol = dtype == DType.F64 ? 1e-12 : 2e-5;

            var y = F.DepthwiseConv2dChannelsLast(x, wt, b);
            y.Backward(gy);
            var (gx, gw, gb) = (x.Grad!.ToArray<double>(), wt.Grad!.ToArray<double>(), b?.Grad!.ToArray<double>());
            x.ZeroGrad(); wt.ZeroGrad(); b?.ZeroGrad();
            var expected = F.Conv2d(x.Permute(0, 3, 1, 2), wt, b, 1, (Engine.Ops.Padding2d)(kh / 2, kw / 2), 1, c).Permute(0, 2, 3, 1);
            expected.Backward(gy);
            Close(expected.ToArray<double>(), y.ToArray<double>(), tol, tol, "output");
            Close(x.Grad!.ToArray<double>(), gx, tol, tol, "input gradient");
            Close(wt.Grad!.ToArray<double>(), gw, tol, tol, "weight gradient");
            if (b is not null) Close(b.Grad!.ToArray<double>(), gb!, tol, tol, "bias gradient");
        }
    }

    [Fact]
    public void RejectsBadShapesAndDtypes()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([2, 4, 4, 3]);
        void Throws(Action a, params string[] parts) { var e = Assert.Throws<ArgumentException>(a); foreach (var p in parts) Assert.Contains(p, e.Message); }
        Throws(() => F.DepthwiseConv2dChannelsLast(x, Tensor.Zeros([4, 1, 3, 3])), "depthwise_conv2d_channels_last", "[2, 4, 4, 3]", "[4, 1, 3, 3]");
        Throws(() => F.DepthwiseConv2dChannelsLast(x, Tensor.Zeros([3, 1, 2, 3])), "odd", "[3, 1, 2, 3]");
        Throws(() => F.DepthwiseConv2dChannelsLast(x, Tensor.Zeros([3, 1, 3, 3]), Tensor.Zeros([4])), "bias of shape [4]");
        Throws(() => F.DepthwiseConv2dChannelsLast(x, Tensor.Zeros([3, 1, 3, 3], DType.F64)), "float64", "float32");
        Throws(() => F.DepthwiseConv2dChannelsLast(Tensor.Zeros([4, 4, 3]), Tensor.Zeros([3, 1, 3, 3])), "[4, 4, 3]");
    }
}
