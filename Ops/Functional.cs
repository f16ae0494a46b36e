namespace Engine.Ops;

/// <summary>
/// The operators the vision backbones use, as functions on tensors, named after PyTorch's
/// <c>torch.nn.functional</c> (in PascalCase) with the same arguments and defaults. Each family lives in
/// its own folder with its forward, backward, shape checks and kernels; they all add to this class.
/// </summary>
public static partial class Functional
{
}
