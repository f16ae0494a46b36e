using Engine.Cuda.Kernels;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

/// <summary>
/// One kernel of a loaded module, launched on its device's compute stream. The first launch checks the
/// argument list against the kernel's own parameter list where the driver can say (cuFuncGetParamInfo,
/// CUDA 12.4 and later): an <c>int</c> passed where the kernel reads an <c>i64</c> would otherwise launch
/// and read garbage.
/// </summary>
public sealed unsafe class CudaKernel
{
    private readonly nint _function;
    private int[]? _parameterSizes;
    private bool _checked;
    private long _launches;

    internal CudaKernel(CudaDevice device, string unit, string name, nint function)
    {
        Device = device;
        Unit = unit;
        Name = name;
        _function = function;
    }

    /// <summary>The device it runs on.</summary>
    public CudaDevice Device { get; }

    /// <summary>The unit it was compiled from.</summary>
    public string Unit { get; }

    /// <summary>Its <c>extern "C"</c> name.</summary>
    public string Name { get; }

    /// <summary>How many times this kernel has been launched (a profile of a step by kernel: <see cref="CudaDevice.LaunchesByKernel"/>).</summary>
    public long Launches => Interlocked.Read(ref _launches);

    /// <summary>The parameter sizes the driver reports, or null when this driver cannot say.</summary>
    public IReadOnlyList<int>? ParameterSizes
    {
        get
        {
            if (!_checked)
            {
                Device.MakeCurrent();
                _parameterSizes = Driver.FunctionParameterSizes(_function);
                _checked = true;
            }
            return _parameterSizes;
        }
    }

    /// <summary>Queues the kernel on the device's stream with <paramref name="args"/>.</summary>
    public void Launch(LaunchConfig config, in KernelArgs args, uint sharedBytes = 0)
    {
        if (args.DeviceProblem is { } problem)
            throw new ArgumentException($"{Name}: every tensor argument must be on {Device.Device}, but {problem}.");
        if (args.DeviceIndex >= 0 && args.DeviceIndex != Device.Ordinal)
            throw new ArgumentException($"{Name}: the kernel is loaded on {Device.Device} but its tensors are on cuda:{args.DeviceIndex}.");
        if (ParameterSizes is { } sizes)
        {
            bool match = sizes.Count == args.Count;
            for (int i = 0; match && i < sizes.Count; i++) match = sizes[i] == args.SizeOf(i);
            if (!match)
            {
                var given = new int[args.Count];
                for (int i = 0; i < given.Length; i++) given[i] = args.SizeOf(i);
                throw new ArgumentException($"{Name} ({Unit}): the kernel takes parameters of [{string.Join(", ", sizes)}] bytes, " +
                    $"but the launch passes [{string.Join(", ", given)}].");
            }
        }
        Device.MakeCurrent();
        Device.Counters.Launch();
        Interlocked.Increment(ref _launches);
        Driver.LaunchKernel(_function, config, sharedBytes, Device.Stream, args.Pointers);
    }
}
