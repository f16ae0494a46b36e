using System.CommandLine;
using Engine.Models.Serialization;
using Engine.Models.Serialization.Pth;

namespace Engine.Samples.Cli.Convert;

/// <summary>
/// <c>engine convert IN.pth OUT.safetensors [--entry KEY]</c>: reads the state dict of a PyTorch checkpoint (or
/// any weights file <see cref="StateDictFile"/> reads) and writes it as safetensors, atomically (nothing is
/// left half-written). Tensors keep their names and the engine's dtypes (float16/bfloat16 become float32,
/// integers int64). Exit code 0 on success, 2 when the input cannot be read or the output written.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "The checkpoint to read (.pth, .pt, .bin, .ckpt or .safetensors)." };
        var output = new Argument<string>("output") { Description = "The safetensors file to write." };
        var entry = new Option<string?>("--entry") { Description = "The nested dict holding the weights in a .pth checkpoint (default: the top level, else state_dict, model, model_ema, ...)." };
        var command = new Command("convert", "Convert a PyTorch checkpoint's state dict to safetensors.") { input, output, entry };
        command.SetAction(parse => Run(parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(entry)));
        return command;
    }

    private static int Run(string input, string output, string? entry)
    {
        if (!output.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            Console.Error.WriteLine($"convert: the output '{output}' must be a .safetensors file.");
            return 2;
        }
        try
        {
            using var scope = Tensor.Scope();
            using var weights = StateDictFile.Read(input, entry);
            var metadata = new Dictionary<string, string> { ["format"] = "pt", ["source"] = Path.GetFileName(input) };
            SafeTensors.Write(output, weights.Tensors, metadata);
            long elements = weights.Tensors.Values.Sum(t => t.NumEl);
            Console.WriteLine($"convert: {input} ({weights.Kind}) -> {output}: {weights.Tensors.Count} tensors, {elements:N0} elements.");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
        {
            Console.Error.WriteLine($"convert: {e.Message}");
            return 2;
        }
    }
}
