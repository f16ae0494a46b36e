using System.CommandLine;

namespace Engine.Samples.Cli.Cuda;

/// <summary>The <c>engine cuda</c> command group: what can be learned about the engine's CUDA side without a GPU.</summary>
internal static class CudaCommand
{
    public static Command Create()
    {
        var cuda = new Command("cuda", "The engine's CUDA kernels, checked without a GPU.");
        cuda.Add(KernelsCommand.Create());
        return cuda;
    }
}
