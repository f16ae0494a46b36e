using System.CommandLine;

namespace Engine.Samples.Cli.Bench;

/// <summary>The <c>engine bench</c> command group: one subcommand per benchmark.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure engine kernels, next to a reference implementation where one is available.");
        bench.Add(PeakBench.CreateCommand());
        bench.Add(GemmBench.CreateCommand());
        bench.Add(ElementwiseBench.CreateCommand());
        bench.Add(OpsBench.CreateCommand());
        bench.Add(ModelBench.CreateCommand());
        bench.Add(DctBench.CreateCommand());
        bench.Add(AllReduceBench.CreateCommand());
        return bench;
    }
}
