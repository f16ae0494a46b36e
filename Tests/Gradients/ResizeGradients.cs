using FsCheck.Fluent;
using Xunit;
using static Engine.Tests.Gradients.Generators;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Gradients;

/// <summary>
/// Float64 gradient properties of interpolate: (N, C, H, W) inputs of any layout, the mode, align_corners,
/// and an output size (up or down, through a size or a scale factor) drawn from the case.
/// </summary>
public class ResizeGradients
{
    private static readonly FsCheck.Gen<int[]> Images =
        from n in FsCheck.Fluent.Gen.Choose(1, 2)
        from c in FsCheck.Fluent.Gen.Choose(1, 2)
        from h in FsCheck.Fluent.Gen.Choose(1, 5)
        from w in FsCheck.Fluent.Gen.Choose(1, 5)
        select new[] { n, c, h, w };

    private static bool IsImage(Case c) => c.Operands[0].Shape is [> 0, > 0, > 0, > 0];

    private static Tensor Resize(Tensor x, Case c)
    {
        string mode = new[] { "nearest", "bilinear", "bicubic" }[c.Choice % 3];
        bool? align = mode == "nearest" ? null : c.Choice / 3 % 2 == 1;
        int choice = c.Choice / 6;
        if (choice % 3 == 0)
        {
            double[] scales = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0];
            double sh = scales[choice / 3 % 6], sw = scales[choice / 18 % 6];
            var shape = c.Operands[0].Shape;
            sh = Math.Max(sh, 1.0 / shape[2]); // keep at least one output row
            sw = Math.Max(sw, 1.0 / shape[3]);
            return F.Interpolate(x, scaleFactor: [sh, sw], mode: mode, alignCorners: align);
        }
        return F.Interpolate(x, size: [1 + choice % 7, 1 + choice / 7 % 7], mode: mode, alignCorners: align);
    }

    [Fact]
    public void Interpolate() => GradientProperty.Check(Arbitrary(Of(Images.Select(s => new[] { s })), IsImage), (x, c) => Resize(x[0], c));
}
