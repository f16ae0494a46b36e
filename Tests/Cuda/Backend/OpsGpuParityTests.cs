using System.Reflection;
using Engine.Tests.Gradients;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Cuda.Backend;

/// <summary>
/// Every operation that runs on CUDA, against the CPU: each gradient property of the families below runs
/// again as a GPU-vs-CPU property over its own generated cases (shapes with size-1 and 0-size dimensions,
/// broadcast, permuted and stepped operands, the same value domains), outputs and every gradient, F32 to 1e-5
/// and F64 to 1e-12 relative. A property added to a listed class joins by itself; an operator family that
/// gains CUDA kernels adds its gradient class (or its converted properties) to <see cref="Families"/>.
/// </summary>
public class OpsGpuParityTests
{
    /// <summary>Cases per property: fewer than the gradient check's, since each runs both devices in both dtypes.</summary>
    private const int Cases = 25;

    /// <summary>The gradient classes whose properties run on the GPU: every property of the class, or the ones named.</summary>
    private static readonly (Type Class, string[]? Only)[] Families =
    [
        (typeof(ElementwiseGradients), null), (typeof(ReduceGradients), null), (typeof(LinalgGradients), null),
        (typeof(ShapeGradients), null), (typeof(IndexingGradients), null),
        (typeof(NormGradients), null),
        (typeof(AttentionGradients), null),
        (typeof(ConvGradients), null),
        (typeof(DepthwiseChannelsLastGradients), null),
        (typeof(LinearGradients), null),
        (typeof(PoolGradients), null),
        (typeof(ActivationGradients), null),
        (typeof(LossGradients), null),
        (typeof(RegularizeGradients), null),
        (typeof(ResizeGradients), null),
        (typeof(DctGradients), null),
        (typeof(SpectralGradients), null),
        (typeof(RecurrentGradients), null),
    ];

    /// <summary>Facts of those classes that check one hand-made case rather than a property: nothing to rerun.</summary>
    private static readonly string[] NotProperties = [nameof(ReduceGradients.MaxTiesShareTheGradient), nameof(ConvGradients.HyperParametersCoverEveryPaddingMode)];

    /// <summary>Every property of the listed families, as "Class.Method", or "Class.Method(args)" for each [InlineData] row of a theory.</summary>
    public static TheoryData<string> Properties()
    {
        var data = new TheoryData<string>();
        foreach (var (type, only) in Families)
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Instance).Where(m => m.GetCustomAttribute<FactAttribute>() is not null))
                if (!NotProperties.Contains(m.Name) && (only is null || only.Contains(m.Name)))
                    foreach (var row in Rows(m)) data.Add($"{type.Name}.{m.Name}{Format(row)}");
        return data;
    }

    /// <summary>The argument rows of a property: none for a fact, each [InlineData] row for a theory.</summary>
    private static List<object?[]> Rows(MethodInfo m)
    {
        var rows = m.GetCustomAttributes<InlineDataAttribute>().SelectMany(a => a.GetData(m)).ToList();
        return rows.Count == 0 ? [[]] : rows;
    }

    private static string Format(object?[] row) => row.Length == 0 ? "" : $"({string.Join(", ", row)})";

    [GpuTheory(Needs = GpuNeeds.TensorBackend)]
    [MemberData(nameof(Properties))]
    public void GpuMatchesCpu(string property)
    {
        var (typeName, call) = (property[..property.IndexOf('.')], property[(property.IndexOf('.') + 1)..]);
        var type = Families.Single(f => f.Class.Name == typeName).Class;
        var method = type.GetMethod(call.Split('(')[0])!;
        var row = Rows(method).Single(r => call == method.Name + Format(r));
        GradientProperty.OverriddenRuns = 0;
        using (GradientProperty.Override(DeviceParity.CheckCase, Cases))
        {
            try { method.Invoke(Activator.CreateInstance(type), row.Length == 0 ? null : row); }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            }
        }
        Assert.True(GradientProperty.OverriddenRuns > 0, $"{property} checked no property: add it to {nameof(NotProperties)}.");
    }
}
