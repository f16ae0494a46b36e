using System.Collections;
using System.Numerics;
using Razorvine.Pickle;

namespace Engine.Models.Serialization.Pth;

/// <summary>A <c>torch.*Storage</c> class named by a pickle: the element type its bytes hold.</summary>
internal sealed class TorchStorageType(string name, SafeTensorsDType dtype) : IObjectConstructor
{
    public string Name { get; } = name;

    public SafeTensorsDType DType { get; } = dtype;

    /// <summary>The storage classes PyTorch pickles, by the name after <c>torch.</c>.</summary>
    public static readonly IReadOnlyDictionary<string, TorchStorageType> All = new[]
    {
        new TorchStorageType("FloatStorage", SafeTensorsDType.F32), new TorchStorageType("DoubleStorage", SafeTensorsDType.F64),
        new TorchStorageType("HalfStorage", SafeTensorsDType.F16), new TorchStorageType("BFloat16Storage", SafeTensorsDType.BF16),
        new TorchStorageType("LongStorage", SafeTensorsDType.I64), new TorchStorageType("IntStorage", SafeTensorsDType.I32),
        new TorchStorageType("ShortStorage", SafeTensorsDType.I16), new TorchStorageType("CharStorage", SafeTensorsDType.I8),
        new TorchStorageType("ByteStorage", SafeTensorsDType.U8), new TorchStorageType("BoolStorage", SafeTensorsDType.BOOL),
    }.ToDictionary(t => t.Name);

    public object construct(object[] args) =>
        throw new PickleException($"torch.{Name} is only accepted as the type of a persistent storage, not called.");
}

/// <summary>
/// A storage as a persistent id names it: its key (the zip entry <c>data/KEY</c>, or the legacy record
/// KEY), element type and element count; for a legacy view, the part of the root storage it covers
/// (<see cref="ViewOffset"/> elements in, <see cref="Numel"/> long) and the root itself.
/// </summary>
internal sealed record StorageRef(string Key, TorchStorageType Type, long Numel, long ViewOffset = 0, StorageRef? Root = null)
{
    /// <summary>The storage whose bytes the file holds: the root of a view, else this one.</summary>
    public StorageRef Stored => Root ?? this;
}

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a window of a storage, not yet read.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride, long Sequence)
{
    private static long _next;

    /// <summary>A number that grows with each tensor unpickled, so a state dict keeps the order of its file.</summary>
    public static long NextSequence() => Interlocked.Increment(ref _next);
}

/// <summary>
/// <c>collections.OrderedDict</c>: Razorvine fills dicts as <see cref="Hashtable"/>s; the attributes PyTorch
/// attaches to a state dict (<c>_metadata</c>, the modules' versions) arrive through <c>__setstate__</c> and are kept apart.
/// </summary>
internal sealed class PickleOrderedDict : Hashtable
{
    public Hashtable? Attributes { get; private set; }

    /// <summary>Called by the unpickler for BUILD with the object's attributes.</summary>
    public void __setstate__(Hashtable state) => Attributes = state;
}

/// <summary>The constructors of the allowed globals (<see cref="PickleScanner.AllowedGlobals"/>).</summary>
internal static class TorchConstructors
{
    private static int _registered;

    /// <summary>Registers the constructors with Razorvine's (process-wide) table, once.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Unpickler.registerConstructor("collections", "OrderedDict", new OrderedDictConstructor());
        Unpickler.registerConstructor("torch._utils", "_rebuild_tensor", new RebuildTensor(legacy: true));
        Unpickler.registerConstructor("torch._utils", "_rebuild_tensor_v2", new RebuildTensor(legacy: false));
        Unpickler.registerConstructor("torch._utils", "_rebuild_parameter", new RebuildParameter());
        foreach (var (name, type) in TorchStorageType.All) Unpickler.registerConstructor("torch", name, type);
    }

    private sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args is null || args.Length != 0) throw new PickleException($"collections.OrderedDict is called with {args?.Length.ToString() ?? "no argument tuple"}; a state dict passes none.");
            return new PickleOrderedDict();
        }
    }

    /// <summary><c>_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])</c>; <c>_rebuild_tensor</c> without the last ones.</summary>
    private sealed class RebuildTensor(bool legacy) : IObjectConstructor
    {
        public object construct(object[] args)
        {
            var fn = legacy ? "_rebuild_tensor" : "_rebuild_tensor_v2";
            if (args is null) throw new PickleException($"torch._utils.{fn} is called without an argument tuple.");
            if (legacy ? args.Length != 4 : args.Length is not (6 or 7))
                throw new PickleException($"torch._utils.{fn} is called with {args.Length} arguments.");
            if (args[0] is not StorageRef storage)
                throw new PickleException($"torch._utils.{fn}: the first argument is {Describe(args[0])}, not a persistent storage.");
            long offset = Integer(args[1], fn, "storage_offset");
            var size = Integers(args[2], fn, "size");
            var stride = Integers(args[3], fn, "stride");
            if (size.Length != stride.Length)
                throw new PickleException($"torch._utils.{fn}: size has {size.Length} dimensions but stride {stride.Length}.");
            return new TensorRef(storage, offset, size, stride, TensorRef.NextSequence());
        }
    }

    /// <summary><c>_rebuild_parameter(data, requires_grad, backward_hooks)</c>: a parameter is its data here.</summary>
    private sealed class RebuildParameter : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args is null) throw new PickleException("torch._utils._rebuild_parameter is called without an argument tuple.");
            if (args.Length != 3 || args[0] is not TensorRef t)
                throw new PickleException($"torch._utils._rebuild_parameter is called with {args.Length} arguments{(args.Length > 0 ? ", the first " + Describe(args[0]) : "")}; expected a tensor, requires_grad and hooks.");
            return t;
        }
    }

    internal static long Integer(object? value, string fn, string what) => value switch
    {
        int i => i,
        long l => l,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => throw new PickleException($"{fn}: {what} is {Describe(value)}, not an integer."),
    };

    private static long[] Integers(object? value, string fn, string what) => value switch
    {
        object[] tuple => tuple.Select(v => Integer(v, fn, what + " element")).ToArray(),
        _ => throw new PickleException($"{fn}: {what} is {Describe(value)}, not a tuple of integers."),
    };

    internal static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"the string '{s}'",
        object[] t => $"a tuple of {t.Length}",
        _ => $"a {value.GetType().Name}",
    };
}

/// <summary>
/// Razorvine's unpickler with PyTorch's persistent ids: <c>('storage', type, key, location, numel[, view])</c>
/// become <see cref="StorageRef"/>s, shared through <paramref name="storages"/> across the pickles of one file.
/// Run only on pickles <see cref="PickleScanner"/> accepted.
/// </summary>
internal sealed class TorchUnpickler(Dictionary<string, StorageRef> storages) : Unpickler
{
    static TorchUnpickler() => TorchConstructors.Register();

    protected override object persistentLoad(object pid)
    {
        if (pid is not object[] { Length: 5 or 6 } t || t[0] is not "storage")
            throw new PickleException($"persistent id {TorchConstructors.Describe(pid)} is not a PyTorch storage ('storage', type, key, location, numel).");
        if (t[1] is not TorchStorageType type) throw new PickleException($"a storage's type is {TorchConstructors.Describe(t[1])}, not a torch.*Storage class.");
        if (t[2] is not string key) throw new PickleException($"a storage's key is {TorchConstructors.Describe(t[2])}, not a string.");
        long numel = TorchConstructors.Integer(t[4], "persistent id", "numel");
        if (numel < 0) throw new PickleException($"storage '{key}' has a negative size ({numel}).");
        var root = Remember(new StorageRef(key, type, numel));
        if (t.Length == 6 && t[5] is not null)
        {
            // Legacy storage views: (view_key, offset, view_size), elements of the root storage.
            if (t[5] is not object[] { Length: 3 } view || view[0] is not string viewKey)
                throw new PickleException($"storage '{key}' has view metadata {TorchConstructors.Describe(t[5])}, not (key, offset, size).");
            long offset = TorchConstructors.Integer(view[1], "storage view", "offset"), size = TorchConstructors.Integer(view[2], "storage view", "size");
            if (offset < 0 || size < 0 || offset > root.Numel - size)
                throw new PickleException($"storage view '{viewKey}' covers elements [{offset}, {offset + size}) of storage '{key}', which has {root.Numel}.");
            return storages.TryGetValue(viewKey, out var known) ? known : storages[viewKey] = root with { Numel = size, ViewOffset = offset, Root = root };
        }
        return root;
    }

    private StorageRef Remember(StorageRef storage)
    {
        if (storages.TryGetValue(storage.Key, out var known))
        {
            if (known.Type != storage.Type || known.Numel != storage.Numel)
                throw new PickleException($"storage '{storage.Key}' is named twice with different types or sizes.");
            return known;
        }
        return storages[storage.Key] = storage;
    }
}
