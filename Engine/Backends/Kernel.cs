namespace Engine.Backends;

/// <summary>The errors every device dispatch shares.</summary>
public static class Kernel
{
    /// <summary>
    /// The one error for an operation that has no kernel on a tensor's device: "no CUDA kernel for
    /// layer_norm (input [2, 3] float32 on cuda:0)".
    /// </summary>
    public static NotSupportedException Missing(string op, Tensor input) =>
        new($"no {(input.Device.Type == DeviceType.Cuda ? "CUDA" : input.Device.Type.ToString().ToUpperInvariant())} kernel for {op} " +
            $"(input {Layout.Format(input.Layout.Shape)} {input.DType.TorchName()} on {input.Device}).");
}
