// Tutorial 1: tensors and the tape, step by step. docs/tutorials/01-tensors-and-the-tape.md embeds the
// regions of this file; a test compiles and runs it, and checks that the page shows the regions as they are.
using Engine;
using Engine.Autograd;
using Engine.Diagnostics;
using Engine.Models.Explore;

namespace Engine.Tutorials;

public static class Tutorial01TensorsAndTheTape
{
    public static void Tensors(TextWriter output)
    {
        #region tensors
        using var scope = Tensor.Scope();              // disposes every tensor created below when it ends
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var t = x.Transpose(0, 1);                     // a view: same storage, swapped strides
        output.WriteLine($"x {Layout.Format(x.Shape)}, t {Layout.Format(t.Shape)}, t contiguous: {t.IsContiguous}");
        output.WriteLine($"same storage: {ReferenceEquals(x.Storage, t.Storage)}");
        output.WriteLine(t.Contiguous().ToString());   // the copy happens here, once
        #endregion
    }

    public static (Tensor Loss, Tensor W) Tape(TextWriter output)
    {
        #region tape
        var w = Tensor.Randn([3, 2], DType.F64, generator: new Engine.Randomness.Generator(1)).RequiresGradInPlace();
        w.Name = "w";                                   // leaves show up by name in the tables below
        var input = Tensor.Randn([4, 3], DType.F64, generator: new Engine.Randomness.Generator(2));
        var loss = input.MatMul(w).Tanh().Sum();       // three recorded operations
        output.Write(TapePrinter.Format(loss));
        #endregion
        return (loss, w);
    }

    public static void Backward(Tensor loss, Tensor w, TextWriter output)
    {
        #region backward
        loss.Backward();                                // walks the nodes from the loss back to w
        output.WriteLine($"w.Grad: {Layout.Format(w.Grad!.Shape)}");
        output.Write(TapePrinter.Summary(loss));        // now with backward times
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "tape.dot"), TapePrinter.ToDot(loss));
        #endregion
    }

    public static GradCheckResult Check()
    {
        #region gradcheck
        var w = Tensor.Randn([3, 2], DType.F64).RequiresGradInPlace();
        var input = Tensor.Randn([4, 3], DType.F64);
        var result = GradCheck.Check(v => input.MatMul(v[0]).Tanh(), [w]);
        // result.Passed; result.ToString() names the worst element when it fails
        #endregion
        return result;
    }

    public static Profiler Profile(TextWriter output)
    {
        #region profile
        var a = Tensor.Randn([256, 256]).RequiresGradInPlace();
        using var profiler = Profiler.Start();          // listens to this thread's tape
        var loss = a.MatMul(a).Relu().Sum();
        profiler.Mark("forward");
        loss.Backward();
        profiler.Mark("backward");
        profiler.Stop();
        output.Write(profiler.FormatByOp());
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "memory.csv"), MemoryTimeline.ToCsv(profiler.Events));
        #endregion
        return profiler;
    }

    public static int Step(TextWriter output)
    {
        #region step
        using var model = ExploreData.Model("cnn");      // the zoo's model, seed 0
        var (images, labels) = ExploreData.EvalImages(8); // embedded Fashion-MNIST, the recipe's eval transform
        using var trace = TrainingStepTrace.Run(model, images, labels);
        output.Write(trace.Summary);
        output.Write(trace.Profile.FormatByOp());
        // trace.Table, trace.Dot, trace.Profile.Events: what engine explore tape / profile show
        #endregion
        int nodes = trace.Nodes.Count;
        images.Dispose();
        labels.Dispose();
        return nodes;
    }
}
