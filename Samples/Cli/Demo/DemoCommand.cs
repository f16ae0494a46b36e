using System.CommandLine;
using Engine.Autograd;

namespace Engine.Samples.Cli.Demo;

/// <summary>
/// <c>engine demo</c>: the first thing a newcomer runs. Builds a small expression (a linear layer, a
/// nonlinearity and a loss), runs the backward pass, prints the tape and the gradients, and checks them
/// against finite differences.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var seed = new Option<int>("--seed") { Description = "Seed of the random inputs.", DefaultValueFactory = _ => 0 };
        var dot = new Option<FileInfo?>("--dot") { Description = "Also write the tape as a Graphviz DOT file." };
        var command = new Command("demo", "Build an expression of tensors, run backward, print the tape and the gradients.") { seed, dot };
        command.SetAction(parse => Run(parse.GetValue(seed), parse.GetValue(dot)));
        return command;
    }

    private static int Run(int seed, FileInfo? dotFile)
    {
        using var scope = Tensor.Scope();
        var generator = new Engine.Randomness.Generator((ulong)seed);
        var x = Tensor.Randn([4, 3], DType.F64, generator: generator);
        x.Name = "x";
        var w = Tensor.Randn([3, 2], DType.F64, generator: generator).RequiresGradInPlace();
        w.Name = "w";
        var b = Tensor.Zeros([2], DType.F64).RequiresGradInPlace();
        b.Name = "b";

        Console.WriteLine("loss = mean(tanh(x @ w + b) ** 2)\n");
        Console.WriteLine($"x = {x}\n");
        Console.WriteLine($"w = {w}\n");

        var h = x.MatMul(w) + b;
        var loss = h.Tanh().Pow(2).Mean();
        Console.WriteLine($"loss = {loss}\n");

        Console.WriteLine("The tape (forward order; '<' marks where each input comes from):");
        Console.WriteLine(TapePrinter.Format(loss));
        if (dotFile is not null)
        {
            File.WriteAllText(dotFile.FullName, TapePrinter.ToDot(loss));
            Console.WriteLine($"Wrote the tape as DOT to {dotFile.FullName}\n");
        }

        loss.Backward();
        Console.WriteLine($"dloss/dw = {w.Grad}\n");
        Console.WriteLine($"dloss/db = {b.Grad}\n");

        var check = GradCheck.Check(p => (x.MatMul(p[0]) + p[1]).Tanh().Pow(2).Mean(), [w, b]);
        Console.WriteLine($"Checked against float64 central differences: {check}");
        return check.Passed ? 0 : 1;
    }
}
