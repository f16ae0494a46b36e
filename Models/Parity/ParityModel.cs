using Engine.Models.Nn;

namespace Engine.Models.Parity;

/// <summary>
/// A model rebuilt from a golden file's metadata: the module that owns the parameters and buffers (its
/// state-dict keys are the reference's), and the forward pass to run on the golden input. Forward is a
/// delegate so that blocks taking more than a tensor (a token sequence and its H and W) fit too.
/// </summary>
public sealed record ParityModel(Module Module, Func<Tensor, Tensor> Forward);
