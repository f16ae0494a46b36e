using Engine.Autograd;
using Engine.Models.Optim;
using Engine.Models.Serialization;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>Checkpoints: complete round trips, resuming training exactly, atomic replacement, damaged files.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ckpt-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    /// <summary>A small "model": parameters of each float dtype and integer/bool buffers.</summary>
    private static Dictionary<string, Tensor> Model(ulong seed)
    {
        var g = new Generator(seed);
        return new()
        {
            ["layer.weight"] = Tensor.Randn([4, 3], DType.F64, generator: g).RequiresGradInPlace(),
            ["layer.bias"] = Tensor.Randn([4], DType.F64, generator: g).RequiresGradInPlace(),
            ["head.weight"] = Tensor.Randn([2, 4], DType.F32, generator: g).RequiresGradInPlace(),
            ["bn.num_batches_tracked"] = Tensor.FromArray(new long[] { 17 }),
            ["mask"] = Tensor.FromArray(new[] { true, false }),
        };
    }

    private static Tensor[] Trainable(Dictionary<string, Tensor> model) => model.Values.Where(t => t.RequiresGrad).ToArray();

    /// <summary>One training step whose gradients come from <paramref name="rng"/>, so restoring the generator matters.</summary>
    private static void TrainStep(Dictionary<string, Tensor> model, Optimizer opt, LrSchedule schedule, Ema ema, Generator rng)
    {
        using var scope = Tensor.Scope();
        foreach (var p in Trainable(model)) p.Grad = Tensor.Randn(p.Shape, p.DType, generator: rng);
        GradientClipping.ClipGradNorm(Trainable(model), 2.0);
        schedule.Step(opt);
        opt.Step();
        ema.Update();
        var tracked = model["bn.num_batches_tracked"];
        tracked.Fill(tracked.Item() + 1);
    }

    private static (AdamW Opt, WarmupCosine Schedule, Ema Ema) Trainer(Dictionary<string, Tensor> model)
    {
        var ps = Trainable(model);
        var opt = new AdamW([new ParamGroup(ps[..2]), new ParamGroup(ps[2..], weightDecay: 0)], lr: 0.05, amsgrad: true);
        return (opt, new WarmupCosine(0.05, 2, 1e-3, 1e-4, 8), new Ema(model, decay: 0.9));
    }

    private static void AssertSameValues(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (k, t) in expected)
        {
            Assert.Equal(t.DType, actual[k].DType);
            Assert.Equal(t.Shape, actual[k].Shape);
            if (t.DType == DType.I64) Assert.Equal(t.ToArray<long>(), actual[k].ToArray<long>());
            else if (t.DType == DType.Bool) Assert.Equal(t.ToArray<bool>(), actual[k].ToArray<bool>());
            else Assert.Equal(t.ToArray<double>(), actual[k].ToArray<double>());
        }
    }

    [Fact]
    public void ResumingFromACheckpointFileContinuesExactlyAsIfUninterrupted()
    {
        using var scope = Tensor.Scope();
        var straight = Model(1);
        var (opt, schedule, ema) = Trainer(straight);
        var rng = new Generator(42);
        for (int s = 0; s < 6; s++) TrainStep(straight, opt, schedule, ema, rng);

        var first = Model(1);
        var (opt1, schedule1, ema1) = Trainer(first);
        var rng1 = new Generator(42);
        for (int s = 0; s < 3; s++) TrainStep(first, opt1, schedule1, ema1, rng1);
        var path = PathOf("resume.safetensors");
        using (var optState = opt1.StateDict())
            Checkpoint.Save(path, first, optState, schedule1.StateDict(), GeneratorState.Of(rng1), epoch: 3,
                new Dictionary<string, string> { ["config"] = "{\"model\": \"tiny\"}" }, ema1.StateDict());

        // A fresh process: other initial weights, a fresh generator; everything comes from the file.
        var resumed = Model(77);
        var (opt2, schedule2, ema2) = Trainer(resumed);
        var rng2 = new Generator(0);
        using (var ckpt = Checkpoint.Load(path))
        {
            Assert.Equal(3, ckpt.Epoch);
            Assert.Equal("{\"model\": \"tiny\"}", ckpt.Metadata["config"]);
            using (Tape.NoGrad())
                foreach (var (k, t) in ckpt.Model) resumed[k].CopyFrom(t);
            opt2.LoadStateDict(ckpt.Optimizer!);
            schedule2.LoadStateDict(ckpt.Schedule!);
            ckpt.Rng!.Value.RestoreTo(rng2);
            ema2.LoadStateDict(ckpt.Ema!);
        }
        for (int s = 3; s < 6; s++) TrainStep(resumed, opt2, schedule2, ema2, rng2);

        AssertSameValues(straight, resumed);
        AssertSameValues(ema.Values, ema2.Values);
        Assert.Equal(rng.Offset, rng2.Offset);
        Assert.Equal(schedule.StepCount, schedule2.StepCount);
        foreach (var o in new IDisposable[] { opt, opt1, opt2, ema, ema1, ema2 }) o.Dispose();
    }

    [Fact]
    public void EverythingSavedComesBack()
    {
        using var scope = Tensor.Scope();
        var model = Model(2);
        var (opt, schedule, ema) = Trainer(model);
        TrainStep(model, opt, schedule, ema, new Generator(3));
        var path = PathOf("all.safetensors");
        using var optState = opt.StateDict();
        Checkpoint.Save(path, new Checkpoint
        {
            Model = model, Optimizer = optState, Schedule = schedule.StateDict(), Rng = new GeneratorState(ulong.MaxValue, 12345),
            Epoch = 9, Ema = ema.Values, Metadata = new Dictionary<string, string> { ["note"] = "ünïcode", ["empty"] = "" },
        });
        using var loaded = Checkpoint.Load(path);
        AssertSameValues(model, loaded.Model);
        AssertSameValues(ema.Values, loaded.Ema!);
        Assert.Equal(new GeneratorState(ulong.MaxValue, 12345), loaded.Rng);
        Assert.Equal(9, loaded.Epoch);
        Assert.Equal(schedule.StateDict(), loaded.Schedule);
        Assert.Equal(new Dictionary<string, string> { ["note"] = "ünïcode", ["empty"] = "" }, loaded.Metadata);
        Assert.Equal("AdamW", loaded.Optimizer!.Kind);
        Assert.Equal(optState.ParamGroupsToJson(), loaded.Optimizer.ParamGroupsToJson());
        Assert.Equal(optState.State.Keys, loaded.Optimizer.State.Keys);
        foreach (var (i, s) in optState.State) AssertSameValues(s, loaded.Optimizer.State[i]);

        // A model-only checkpoint has no optional parts.
        var bare = PathOf("bare.safetensors");
        Checkpoint.Save(bare, model);
        using var b = Checkpoint.Load(bare);
        Assert.Null(b.Optimizer);
        Assert.Null(b.Schedule);
        Assert.Null(b.Rng);
        Assert.Null(b.Ema);
        Assert.Equal(0, b.Epoch);
        opt.Dispose();
        ema.Dispose();
    }

    /// <summary>Throws after <paramref name="limit"/> bytes, like a disk that fills up or a process killed mid-write.</summary>
    private sealed class FailingStream(Stream inner, long limit) : Stream
    {
        private long _written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int allowed = (int)Math.Min(buffer.Length, limit - _written);
            inner.Write(buffer[..allowed]);
            _written += allowed;
            if (allowed < buffer.Length) throw new IOException("simulated crash: no space left on device");
        }
    }

    [Fact]
    public void ACrashMidWriteLeavesThePreviousCheckpointAndNoTemporaryFile()
    {
        using var scope = Tensor.Scope();
        var path = PathOf("model.safetensors");
        var model = Model(4);
        Checkpoint.Save(path, model, epoch: 1);
        var before = File.ReadAllBytes(path);

        var bigger = Model(5);
        bigger["extra"] = Tensor.Zeros([1000]);
        foreach (long limit in new long[] { 0, 7, 100, before.Length / 2, before.Length })
        {
            var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s => Checkpoint.Save(new FailingStream(s, limit), new Checkpoint { Model = bigger, Epoch = 2 })));
            Assert.Contains("simulated crash", e.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal(["model.safetensors"], _dir.GetFiles().Select(f => f.Name));
        }

        // A failure inside the serializer (a tensor disposed under it) is the same: nothing changes.
        var broken = Model(6);
        broken["layer.bias"].Dispose();
        Assert.Throws<ObjectDisposedException>(() => Checkpoint.Save(path, broken, epoch: 3));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], _dir.GetFiles().Select(f => f.Name));
        using (var ok = Checkpoint.Load(path)) Assert.Equal(1, ok.Epoch);

        // And a successful save replaces it.
        Checkpoint.Save(path, bigger, epoch: 2);
        using var replaced = Checkpoint.Load(path);
        Assert.Equal(2, replaced.Epoch);
        Assert.Equal(["model.safetensors"], _dir.GetFiles().Select(f => f.Name));
    }

    private (string Path, byte[] Bytes) Saved()
    {
        var path = PathOf("good.safetensors");
        using var scope = Tensor.Scope();
        var model = Model(8);
        var (opt, schedule, ema) = Trainer(model);
        TrainStep(model, opt, schedule, ema, new Generator(1));
        using (var state = opt.StateDict()) Checkpoint.Save(path, model, state, schedule.StateDict(), new GeneratorState(1, 2), 4, ema: ema.Values);
        opt.Dispose();
        ema.Dispose();
        return (path, File.ReadAllBytes(path));
    }

    private SafeTensorsException LoadCopy(string name, byte[] bytes)
    {
        var copy = PathOf(name);
        File.WriteAllBytes(copy, bytes);
        var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load(copy));
        Assert.Contains(copy, e.Message);
        return e;
    }

    [Fact]
    public void TruncatedCopiesAreErrorsAndTheOriginalStillLoads()
    {
        var (path, bytes) = Saved();
        foreach (int length in new[] { 0, 5, 8, 9, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            var e = LoadCopy($"cut{length}.safetensors", bytes[..length]);
            Assert.Matches("truncated|too short|runs past|not valid JSON", e.Message);
        }
        using var ok = Checkpoint.Load(path);
        Assert.Equal(4, ok.Epoch);
    }

    [Fact]
    public void CorruptedCopiesAreDetected()
    {
        var (path, bytes) = Saved();
        long dataStart = SafeTensors.ReadHeader(path).DataStart;

        // A flipped bit in the data: the file still parses, but its checksum no longer matches.
        var data = (byte[])bytes.Clone();
        data[dataStart + 20] ^= 0x10;
        Assert.Contains("does not match the SHA-256 checksum", LoadCopy("data.safetensors", data).Message);

        // A changed metadata value (epoch 4 -> 5), still valid JSON.
        var text = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)dataStart - 8);
        int at = text.IndexOf("\"epoch\":\"4\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        var meta = (byte[])bytes.Clone();
        meta[8 + at + "\"epoch\":\"".Length] = (byte)'5';
        Assert.Contains("checksum", LoadCopy("meta.safetensors", meta).Message);

        // Any single damaged header byte is either an error of ours or caught by the checksum.
        for (int i = 0; i < dataStart; i += 7)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0x5A;
            LoadCopy("header.safetensors", copy);
        }
        using var ok = Checkpoint.Load(path);
        Assert.Equal(4, ok.Epoch);
    }

    [Fact]
    public void ForeignFilesAreRefused()
    {
        using var scope = Tensor.Scope();
        var plain = PathOf("plain.safetensors");
        SafeTensors.Write(plain, [new("w", Tensor.Ones([2]))]);
        Assert.Contains("not an engine checkpoint", Assert.Throws<SafeTensorsException>(() => Checkpoint.Load(plain)).Message);

        var newer = PathOf("newer.safetensors");
        SafeTensors.Write(newer, [], new Dictionary<string, string> { ["format"] = Checkpoint.FormatName, ["format_version"] = "99" });
        Assert.Contains("version 99 is newer", Assert.Throws<SafeTensorsException>(() => Checkpoint.Load(newer)).Message);
        Assert.Throws<SafeTensorsException>(() => Checkpoint.Load(GoldenFiles.Copied("optim/optimizers.safetensors")));
    }
}
