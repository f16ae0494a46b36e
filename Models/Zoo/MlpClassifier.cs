using Engine.Models.Nn;

namespace Engine.Models.Zoo;

/// <summary>
/// The zoo's <c>mlp</c>: flatten, a dense layer to <c>hidden</c> features, LayerNorm, tanh, a dense layer to the
/// classes. It is built from core operations (matmul, add, tanh) and LayerNorm only, which all run on CUDA
/// today, so it is the model that trains end to end on a GPU (or the CUDA emulator) while the convolution,
/// pooling and loss families gain their CUDA kernels. About 200 thousand parameters for 3x32x32 inputs.
/// </summary>
public sealed class MlpClassifier : Module<Tensor, Tensor>
{
    private readonly Dense _fc1, _fc2;
    private readonly LayerNorm _norm;

    /// <summary>Creates the network for inputs of <paramref name="inputFeatures"/> values and <paramref name="classes"/> classes.</summary>
    public MlpClassifier(int inputFeatures, int classes, int hidden = 64, Engine.Randomness.Generator? generator = null)
    {
        _fc1 = RegisterModule("fc1", new Dense(inputFeatures, hidden, generator));
        _norm = RegisterModule("norm", new LayerNorm(hidden));
        _fc2 = RegisterModule("fc2", new Dense(hidden, classes, generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        using var flat = input.Flatten(1);
        using var h = _fc1.Call(flat);
        using var n = _norm.Call(h);
        using var a = n.Tanh();
        return _fc2.Call(a);
    }

    /// <summary>
    /// x·Wᵀ + b as two core operations (Nn.Linear's fused operator has no CUDA kernel yet), with PyTorch's
    /// Linear initialisation and parameter names.
    /// </summary>
    private sealed class Dense : Module<Tensor, Tensor>
    {
        public Dense(int inFeatures, int outFeatures, Engine.Randomness.Generator? generator)
        {
            var w = RegisterParameter("weight", Tensor.Empty([outFeatures, inFeatures], DType.F32, Device.Cpu))!;
            var b = RegisterParameter("bias", Tensor.Empty([outFeatures], DType.F32, Device.Cpu))!;
            Init.DefaultLinearOrConv(w, b, generator);
        }

        public override Tensor Forward(Tensor input)
        {
            using var wt = GetParameter("weight")!.Transpose(0, 1);
            using var product = input.MatMul(wt);
            return product.Add(GetParameter("bias")!);
        }
    }
}
