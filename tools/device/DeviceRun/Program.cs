using Engine.Tools.DeviceRun;

// devicerun: the device script's runner. `run.sh` calls it on the GPU host (and here, to prove the pack);
// `pack.sh` calls `runtime-files` here. Each verb lives in its own file.
const string Usage = """
    usage: devicerun <verb> ...
      device                                   which CUDA device this process sees; ends with a JSON line
      run <steps.txt> --out DIR [--budget S] [--device-json FILE]
                                               runs the named steps, each with its timeout; prints one table
      tests [DLL] [--gpu] [--filter TEXT]... [--not-trait K=V]... [--max N] [--sanitizer TOOL] [--timeout S]
                                               runs xUnit tests in this process (-parallel none); a JSON line
      runtime-files <framework dir> <app dir>  the framework files the app's assemblies can reach
    """;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}
try
{
    var rest = new Arguments(args[1..]);
    return args[0] switch
    {
        "device" => DeviceProbe.Run(rest),
        "run" => StepRunner.Run(rest),
        "tests" => TestRunner.Run(rest),
        "runtime-files" => RuntimeClosure.Run(rest),
        _ => throw new ArgumentException($"unknown verb '{args[0]}'.\n{Usage}"),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"devicerun: {e.Message}");
    return 2;
}
