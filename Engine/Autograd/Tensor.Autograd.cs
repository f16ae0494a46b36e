using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Computes the gradient of this tensor with respect to every leaf that requires one, adding it to
    /// the leaves' <see cref="Grad"/>. A non-scalar tensor needs an explicit <paramref name="gradient"/>
    /// of its own shape. The graph's saved tensors are freed as it runs unless <paramref name="retainGraph"/>.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Tape.Backward(this, gradient, retainGraph);

    /// <summary>Hooks run once this leaf's gradient is complete for a backward pass (see <see cref="RegisterPostAccumulateGradHook"/>).</summary>
    internal List<Action<Tensor>>? PostAccumulateGradHooks { get; private set; }

    /// <summary>
    /// Registers <paramref name="hook"/> to run (with this leaf) during every <see cref="Backward"/> that reaches this
    /// leaf, as soon as its <see cref="Grad"/> holds everything the pass adds to it, while the rest of the
    /// backward still runs (PyTorch's <c>register_post_accumulate_grad_hook</c>). Data-parallel training uses it
    /// to start all-reducing gradients early. Disposing the returned handle removes the hook.
    /// </summary>
    public IDisposable RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (GradFn is not null || !RequiresGrad)
            throw new InvalidOperationException("register_post_accumulate_grad_hook: only leaf tensors that require grad can have one.");
        (PostAccumulateGradHooks ??= []).Add(hook);
        return new HookHandle(this, hook);
    }

    private sealed class HookHandle(Tensor owner, Action<Tensor> hook) : IDisposable
    {
        public void Dispose() => owner.PostAccumulateGradHooks?.Remove(hook);
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor, for chaining (PyTorch's <c>requires_grad_()</c>).</summary>
    public Tensor RequiresGradInPlace(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }
}
