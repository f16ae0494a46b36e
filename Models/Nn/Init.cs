using Engine.Autograd;
using Engine.Randomness;

namespace Engine.Models.Nn;

/// <summary>Which fan Kaiming initialisation preserves: the forward pass's variance (fan in) or the backward's (fan out).</summary>
public enum FanMode
{
    /// <summary>Input features × receptive field.</summary>
    FanIn,
    /// <summary>Output features × receptive field.</summary>
    FanOut,
}

/// <summary>
/// Weight initialisers with PyTorch's <c>torch.nn.init</c> semantics. Each fills a tensor in place from a
/// seeded generator (the default one when none is given) and returns it.
/// </summary>
public static class Init
{
    /// <summary>(fan in, fan out) of a weight of rank 2 or more: dims 1 and 0 times the receptive field.</summary>
    public static (long FanIn, long FanOut) Fans(Tensor t)
    {
        if (t.Rank < 2)
            throw new ArgumentException($"init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape {Layout.Format(t.Shape)}).");
        long receptive = 1;
        for (int d = 2; d < t.Rank; d++) receptive *= t.Size(d);
        return (t.Size(1) * receptive, t.Size(0) * receptive);
    }

    /// <summary>The recommended gain for a nonlinearity, as <c>torch.nn.init.calculate_gain</c>.</summary>
    public static double Gain(string nonlinearity, double? param = null) => nonlinearity switch
    {
        "linear" or "conv1d" or "conv2d" or "conv3d" or "sigmoid" or "identity" => 1.0,
        "tanh" => 5.0 / 3,
        "relu" => Math.Sqrt(2.0),
        "leaky_relu" => Math.Sqrt(2.0 / (1 + Math.Pow(param ?? 0.01, 2))),
        "selu" => 3.0 / 4,
        _ => throw new ArgumentException($"init: unsupported nonlinearity '{nonlinearity}'."),
    };

    private static Tensor Assign(Tensor t, Tensor values)
    {
        using (values)
        using (Tape.NoGrad())
            t.CopyFrom(values);
        return t;
    }

    /// <summary>Fills with a constant.</summary>
    public static Tensor Constant(Tensor t, double value)
    {
        using (Tape.NoGrad()) t.Fill(value);
        return t;
    }

    /// <summary>Fills with zeros.</summary>
    public static Tensor Zeros(Tensor t) => Constant(t, 0);

    /// <summary>Fills with ones.</summary>
    public static Tensor Ones(Tensor t) => Constant(t, 1);

    /// <summary>Uniform on [a, b).</summary>
    public static Tensor Uniform(Tensor t, double a = 0, double b = 1, Generator? generator = null)
    {
        using var u = Tensor.Rand(t.Shape, t.DType, t.Device, generator);
        return Assign(t, u.Affine(b - a, a));
    }

    /// <summary>Normal with the given mean and standard deviation.</summary>
    public static Tensor Normal(Tensor t, double mean = 0, double std = 1, Generator? generator = null)
    {
        using var n = Tensor.Randn(t.Shape, t.DType, t.Device, generator);
        return Assign(t, n.Affine(std, mean));
    }

    /// <summary>
    /// Normal(mean, std) restricted to [a, b] (timm's and PyTorch's <c>trunc_normal_</c>): values outside
    /// are drawn again until none is left, which samples the truncated distribution exactly.
    /// </summary>
    public static Tensor TruncNormal(Tensor t, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        if (!(a < b)) throw new ArgumentException($"trunc_normal: expected a < b, got a={a}, b={b}.");
        if (std <= 0) throw new ArgumentException($"trunc_normal: std must be positive, got {std}.");
        var values = new double[t.NumEl];
        var pending = Enumerable.Range(0, values.Length).ToList();
        for (int round = 0; pending.Count > 0; round++)
        {
            if (round > 10_000) throw new InvalidOperationException($"trunc_normal: the interval [{a}, {b}] is too far in the tails of N({mean}, {std}).");
            using var draw = Tensor.Randn([pending.Count], DType.F64, Device.Cpu, generator);
            var d = draw.ToArray<double>();
            var still = new List<int>();
            for (int i = 0; i < pending.Count; i++)
            {
                double v = mean + std * d[i];
                if (v >= a && v <= b) values[pending[i]] = v;
                else still.Add(pending[i]);
            }
            pending = still;
        }
        return Assign(t, Tensor.FromArray(values, t.Shape));
    }

    private static double Fan(Tensor t, FanMode mode)
    {
        var (fanIn, fanOut) = Fans(t);
        return mode == FanMode.FanIn ? fanIn : fanOut;
    }

    /// <summary>He uniform: U(-bound, bound) with bound = gain·√(3 / fan).</summary>
    public static Tensor KaimingUniform(Tensor t, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu", Generator? generator = null)
    {
        double bound = Math.Sqrt(3.0) * Gain(nonlinearity, a) / Math.Sqrt(Fan(t, mode));
        return Uniform(t, -bound, bound, generator);
    }

    /// <summary>He normal: N(0, gain² / fan).</summary>
    public static Tensor KaimingNormal(Tensor t, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu", Generator? generator = null) =>
        Normal(t, 0, Gain(nonlinearity, a) / Math.Sqrt(Fan(t, mode)), generator);

    /// <summary>Glorot uniform: U(-bound, bound) with bound = gain·√(6 / (fan in + fan out)).</summary>
    public static Tensor XavierUniform(Tensor t, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = Fans(t);
        double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(t, -bound, bound, generator);
    }

    /// <summary>Glorot normal: N(0, gain² · 2 / (fan in + fan out)).</summary>
    public static Tensor XavierNormal(Tensor t, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = Fans(t);
        return Normal(t, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }

    /// <summary>
    /// PyTorch's default initialisation of Linear and Conv2d (their <c>reset_parameters</c>): the weight
    /// from Kaiming uniform with a = √5, i.e. U(±1/√fan_in), and the bias from U(±1/√fan_in).
    /// </summary>
    public static void DefaultLinearOrConv(Tensor weight, Tensor? bias, Generator? generator = null)
    {
        KaimingUniform(weight, Math.Sqrt(5), generator: generator);
        if (bias is null) return;
        var (fanIn, _) = Fans(weight);
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        Uniform(bias, -bound, bound, generator);
    }
}
