// NVRTC, emulated: the exact source the engine gives NVRTC is compiled by g++ in two passes against the
// force-included shim (cuda_emu_shim.h):
//   1. g++ -E: every macro expanded; the emulator scans and rewrites the text (emu_scan.cpp);
//   2. g++ -x c++-cpp-output ... -shared: the kernel module, linked with emu_shared.ld.
// The "PTX" is text, "//CUDA-EMU-IMAGE v1\n" + base64(module) + "\n", that cuModuleLoadData turns back into
// a module; it is self-contained, so the engine's PtxCache stores it like PTX. Modules are also cached on
// disk by SHA-256 of the rewritten unit, the options, the shim revision and g++'s version, so repeated test
// processes skip the second pass. Line markers keep g++'s diagnostics on the source's own file:line.
#include "emu_internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

extern char** environ;

namespace emu {
std::string scan_unit(const std::string& preprocessed, std::string* warnings, unsigned* kernels);

namespace {

enum : int
{
    kNvrtcSuccess = 0, kNvrtcInvalidInput = 3, kNvrtcInvalidProgram = 4, kNvrtcInvalidOption = 5,
    kNvrtcCompilation = 6, kNvrtcBuiltinFailure = 7,
};

struct Program
{
    std::string source, name;
    std::vector<std::pair<std::string, std::string>> headers;   // include name, text
    std::string log, image;
    bool compiled = false;
};

std::mutex g_programs_mutex;
std::set<Program*> g_programs;

bool live(Program* p)
{
    std::lock_guard<std::mutex> lock(g_programs_mutex);
    return g_programs.count(p) != 0;
}

bool write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), (std::streamsize)text.size());
    return (bool)out;
}

bool read_file(const std::string& path, std::string* text)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    *text = s.str();
    return true;
}

bool make_dirs(const std::string& path)
{
    for (std::size_t p = 1; p <= path.size(); ++p)
        if (p == path.size() || path[p] == '/')
        {
            std::string prefix = path.substr(0, p);
            if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
        }
    return true;
}

void remove_tree(const std::string& path)
{
    nftw(path.c_str(), [](const char* file, const struct stat*, int, FTW*) { return std::remove(file); }, 16, FTW_DEPTH | FTW_PHYS);
}

// The private folder holding the embedded shim, math header, ABI header and linker script.
struct Support
{
    std::string dir;
    ~Support() { if (!dir.empty()) remove_tree(dir); }
};

const std::string& support_dir()
{
    static Support support;
    static std::once_flag once;
    std::call_once(once, [] {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cuda-emu-XXXXXX";
        std::vector<char> buffer(pattern.begin(), pattern.end());
        buffer.push_back('\0');
        if (mkdtemp(buffer.data()) == nullptr) return;
        std::string dir = buffer.data();
        if (write_file(dir + "/cuda_emu_shim.h", cuda_emu_embedded_shim) && write_file(dir + "/cuda_emu_math.h", cuda_emu_embedded_math) &&
            write_file(dir + "/cuda_emu_abi.h", cuda_emu_embedded_abi) && write_file(dir + "/emu_shared.ld", cuda_emu_embedded_ld))
            support.dir = dir;
    });
    return support.dir;
}

// Runs argv in `cwd`; returns the exit status (-1 when it could not start) and its stdout+stderr in *output.
int run(const std::vector<std::string>& argv, const std::string& cwd, std::string* output)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "LC_ALL=", 7) != 0 && std::strncmp(*e, "GCC_COLORS=", 11) != 0) env_strings.push_back(*e);
    env_strings.push_back("LC_ALL=C");
    std::vector<char*> env;
    for (std::string& e : env_strings) env.push_back(&e[0]);
    env.push_back(nullptr);
    pid_t pid;
    int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    close(pipefd[1]);
    if (spawned != 0)
    {
        close(pipefd[0]);
        *output = format("cannot run %s: %s (set CUDA_EMU_CXX to a g++)", argv[0].c_str(), std::strerror(spawned));
        return -1;
    }
    char buffer[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buffer, sizeof buffer)) > 0) output->append(buffer, (std::size_t)n);
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

const std::string& compiler_version()
{
    static std::string version;
    static std::once_flag once;
    std::call_once(once, [] {
        std::string out;
        if (run({cxx_program(), "--version"}, "", &out) == 0) version = out.substr(0, out.find('\n'));
    });
    return version;
}

struct Options
{
    int arch = 0;
    std::string standard = "c++17";
    std::vector<std::string> preprocessor;   // -D, -U, -I, -include, in order
    std::string error;                       // the first unrecognised option
};

bool starts(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool parse_arch(const std::string& value, int* arch)
{
    std::size_t p = starts(value, "compute_") ? 8 : starts(value, "sm_") ? 3 : starts(value, "lto_") ? 4 : std::string::npos;
    if (p == std::string::npos) return false;
    std::size_t digits = p;
    while (digits < value.size() && std::isdigit((unsigned char)value[digits])) ++digits;
    if (digits == p || digits + 1 < value.size() || (digits < value.size() && value[digits] != 'a' && value[digits] != 'f')) return false;
    *arch = std::atoi(value.c_str() + p);
    return *arch >= 50;
}

// NVRTC's options: the architecture, the standard and the preprocessor ones take effect; the code-generation
// ones (fast math, FMA, line info, ptxas options...) are accepted and ignored; anything else is an error.
Options parse_options(int count, const char* const* options)
{
    static const char* const kIgnoredExact[] = {
        "-default-device", "--device-as-default-execution-space", "-dw", "--use_fast_math", "-use_fast_math", "-lineinfo",
        "--generate-line-info", "-G", "--device-debug", "-w", "--disable-warnings", "-restrict", "--restrict",
        "--extra-device-vectorization", "-extra-device-vectorization", "--device-int128", "-device-int128", "-minimal", "--minimal",
        "--display-error-number", "--no-display-error-number", "-err-no", "-no-err-no", "-dlto", "--dlink-time-opt"};
    static const char* const kIgnoredPrefix[] = {
        "--fmad=", "-fmad=", "--ftz=", "-ftz=", "--prec-div=", "-prec-div=", "--prec-sqrt=", "-prec-sqrt=", "--ptxas-options=",
        "-Xptxas=", "--maxrregcount=", "-maxrregcount=", "-dopt=", "--dopt=", "--relocatable-device-code=false", "-rdc=false",
        "--diag-suppress=", "-diag-suppress=", "--diag-error=", "-diag-error=", "--diag-warn=", "-diag-warn=", "-time=", "--time=",
        "-split-compile=", "--split-compile=", "--optimization-info=", "-opt-info="};
    Options o;
    o.arch = compute_capability();
    for (int i = 0; i < count && o.error.empty(); ++i)
    {
        std::string a = options[i] ? options[i] : "";
        auto next = [&](std::string* value) {
            if (i + 1 >= count || options[i + 1] == nullptr) return false;
            *value = options[++i];
            return true;
        };
        std::string v;
        bool ignored = false;
        for (const char* e : kIgnoredExact) ignored = ignored || a == e;
        for (const char* p : kIgnoredPrefix) ignored = ignored || starts(a, p);
        if (ignored) continue;
        if (a == "-Xptxas" || a == "--ptxas-options") { if (!next(&v)) o.error = a; continue; }
        if (starts(a, "--gpu-architecture=") || starts(a, "-arch="))
        {
            if (!parse_arch(a.substr(a.find('=') + 1), &o.arch)) o.error = a;
            continue;
        }
        if (a == "--gpu-architecture" || a == "-arch")
        {
            if (!next(&v) || !parse_arch(v, &o.arch)) o.error = a + " " + v;
            continue;
        }
        if (starts(a, "--std=") || starts(a, "-std="))
        {
            std::string s = a.substr(a.find('=') + 1);
            if (s != "c++03" && s != "c++11" && s != "c++14" && s != "c++17" && s != "c++20") o.error = a;
            else o.standard = s;
            continue;
        }
        if (starts(a, "--define-macro=")) { o.preprocessor.push_back("-D" + a.substr(15)); continue; }
        if (starts(a, "--undefine-macro=")) { o.preprocessor.push_back("-U" + a.substr(17)); continue; }
        if (starts(a, "--include-path=")) { o.preprocessor.push_back("-I" + a.substr(15)); continue; }
        if (starts(a, "--pre-include=")) { o.preprocessor.push_back("-include"); o.preprocessor.push_back(a.substr(14)); continue; }
        if ((a == "-D" || a == "-U" || a == "-I" || a == "-include") && next(&v))
        {
            if (a == "-include") { o.preprocessor.push_back(a); o.preprocessor.push_back(v); }
            else o.preprocessor.push_back(a + v);
            continue;
        }
        if ((starts(a, "-D") || starts(a, "-U") || starts(a, "-I")) && a.size() > 2) { o.preprocessor.push_back(a); continue; }
        o.error = a;
    }
    return o;
}

std::string file_name(const std::string& name)
{
    std::size_t slash = name.find_last_of('/');
    std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
    return base.empty() || base == "." || base == ".." ? "default_program" : base;
}

// Compiles p; returns an nvrtcResult, the log in p->log.
int compile(Program* p, const Options& o)
{
    const std::string& support = support_dir();
    if (support.empty()) { p->log = "cannot create the emulator's temporary folder"; return kNvrtcBuiltinFailure; }
    std::vector<char> buffer;
    std::string pattern = support + "/program-XXXXXX";
    buffer.assign(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) { p->log = "cannot create a compile folder"; return kNvrtcBuiltinFailure; }
    std::string work = buffer.data();
    struct Cleanup { std::string dir; ~Cleanup() { remove_tree(dir); } } cleanup{work};

    std::string source = file_name(p->name);
    if (!write_file(work + "/" + source, p->source)) { p->log = "cannot write the source"; return kNvrtcBuiltinFailure; }
    for (const auto& [include, text] : p->headers)
    {
        if (include.find("..") != std::string::npos || include.empty() || include[0] == '/') continue;
        std::size_t slash = include.find_last_of('/');
        if (slash != std::string::npos) make_dirs(work + "/" + include.substr(0, slash));
        write_file(work + "/" + include, text);
    }

    std::string cxx = cxx_program();
    std::vector<std::string> pass1 = {cxx, "-E", "-x", "c++", "-std=" + o.standard, "-nostdinc", "-nostdinc++",
                                      "-include", support + "/cuda_emu_shim.h", "-D__CUDA_ARCH__=" + std::to_string(o.arch * 10),
                                      "-D__CUDACC_VER_MAJOR__=12", "-D__CUDACC_VER_MINOR__=8", "-D__CUDACC_VER_BUILD__=0", "-I."};
    pass1.insert(pass1.end(), o.preprocessor.begin(), o.preprocessor.end());
    pass1.insert(pass1.end(), {source, "-o", "unit.ii"});
    std::string output;
    int status = run(pass1, work, &output);
    if (status < 0) { p->log = output; return kNvrtcBuiltinFailure; }
    if (status != 0) { p->log = output; return kNvrtcCompilation; }
    std::string preprocessed;
    if (!read_file(work + "/unit.ii", &preprocessed)) { p->log = output + "cannot read the preprocessed unit"; return kNvrtcBuiltinFailure; }

    std::string warnings;
    unsigned kernels = 0;
    std::string unit = scan_unit(preprocessed, &warnings, &kernels);
    std::string optimization = cxx_optimization();
    bool debug = debug_info();

    // The key: the unit with the support folder's (per-process) name taken out, and everything else pass 2 depends on.
    std::string keyed = unit;
    for (std::size_t at; (at = keyed.find(support)) != std::string::npos;) keyed.replace(at, support.size(), "<support>");
    std::string key = sha256_hex(format("shim %d abi %d\n%s\n%s %s %s\n", CUDA_EMU_SHIM_REVISION, CUDA_EMU_ABI_VERSION, compiler_version().c_str(),
                                        o.standard.c_str(), optimization.c_str(), debug ? "-g" : "") + keyed);
    std::string cache = module_cache_dir();
    std::string cached_path = cache.empty() ? "" : cache + "/" + key + ".so";
    std::string library;
    if (!cached_path.empty() && read_file(cached_path, &library) && library.size() > 64)
    {
        counters().compile_cache_hits++;
        p->log = output + warnings;
    }
    else
    {
        if (!write_file(work + "/unit2.ii", unit)) { p->log = "cannot write the rewritten unit"; return kNvrtcBuiltinFailure; }
        std::vector<std::string> pass2 = {cxx, "-x", "c++-cpp-output", "-std=" + o.standard, optimization, "-fPIC", "-shared",
                                          "-fvisibility=hidden", "-fno-gnu-unique", "-fno-exceptions", "-fno-rtti",
                                          "-fno-threadsafe-statics", "-ffp-contract=off", "-fno-strict-aliasing",
                                          "-fdiagnostics-color=never", "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas",
                                          "-Wno-unused-variable", "-Wl,-T," + support + "/emu_shared.ld", "-Wl,--no-undefined",
                                          "-o", "module.so", "unit2.ii", "-lm"};
        if (debug) pass2.insert(pass2.begin() + 5, "-g");
        std::string compile_output;
        status = run(pass2, work, &compile_output);
        p->log = output + warnings + compile_output;
        if (status < 0) return kNvrtcBuiltinFailure;
        if (status != 0) return kNvrtcCompilation;
        if (!read_file(work + "/module.so", &library)) { p->log += "cannot read the module"; return kNvrtcBuiltinFailure; }
        counters().compiles++;
        if (!cached_path.empty() && make_dirs(cache))
        {
            std::string temporary = format("%s.%d.tmp", cached_path.c_str(), (int)getpid());
            if (write_file(temporary, library)) std::rename(temporary.c_str(), cached_path.c_str());
            else std::remove(temporary.c_str());
        }
    }
    p->image = kImageMagic + base64_encode(library) + "\n";
    p->compiled = true;
    return kNvrtcSuccess;
}

} // namespace
} // namespace emu

using namespace emu;

EMU_EXPORT const char* nvrtcGetErrorString(int result)
{
    switch (result)
    {
        case 0: return "NVRTC_SUCCESS";
        case 1: return "NVRTC_ERROR_OUT_OF_MEMORY";
        case 2: return "NVRTC_ERROR_PROGRAM_CREATION_FAILURE";
        case 3: return "NVRTC_ERROR_INVALID_INPUT";
        case 4: return "NVRTC_ERROR_INVALID_PROGRAM";
        case 5: return "NVRTC_ERROR_INVALID_OPTION";
        case 6: return "NVRTC_ERROR_COMPILATION";
        case 7: return "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE";
        case 8: return "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION";
        case 9: return "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION";
        case 10: return "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID";
        case 11: return "NVRTC_ERROR_INTERNAL_ERROR";
        default: return "NVRTC_ERROR unknown";
    }
}

// 99.<shim revision>: never a real NVRTC version, so the engine's PTX cache keeps emulator images apart.
EMU_EXPORT int nvrtcVersion(int* major, int* minor)
{
    if (major == nullptr || minor == nullptr) return kNvrtcInvalidInput;
    *major = 99;
    *minor = CUDA_EMU_SHIM_REVISION;
    return kNvrtcSuccess;
}

EMU_EXPORT int nvrtcCreateProgram(void** program, const char* source, const char* name, int header_count, const char* const* headers,
                                  const char* const* include_names)
{
    if (program == nullptr || source == nullptr || header_count < 0) return kNvrtcInvalidInput;
    if (header_count > 0 && (headers == nullptr || include_names == nullptr)) return kNvrtcInvalidInput;
    auto* p = new Program();
    p->source = source;
    p->name = name ? name : "default_program";
    for (int i = 0; i < header_count; ++i)
    {
        if (headers[i] == nullptr || include_names[i] == nullptr) { delete p; return kNvrtcInvalidInput; }
        p->headers.emplace_back(include_names[i], headers[i]);
    }
    std::lock_guard<std::mutex> lock(g_programs_mutex);
    g_programs.insert(p);
    *program = p;
    return kNvrtcSuccess;
}

EMU_EXPORT int nvrtcDestroyProgram(void** program)
{
    if (program == nullptr) return kNvrtcInvalidInput;
    std::lock_guard<std::mutex> lock(g_programs_mutex);
    if (!g_programs.erase((Program*)*program)) return kNvrtcInvalidProgram;
    delete (Program*)*program;
    *program = nullptr;
    return kNvrtcSuccess;
}

EMU_EXPORT int nvrtcCompileProgram(void* program, int count, const char* const* options)
{
    Program* p = (Program*)program;
    if (!live(p)) return kNvrtcInvalidProgram;
    if (count < 0 || (count > 0 && options == nullptr)) return kNvrtcInvalidInput;
    p->compiled = false;
    p->image.clear();
    Options o = parse_options(count, options);
    if (!o.error.empty())
    {
        p->log = "nvrtc: error: unrecognized option " + o.error + "\n";
        return kNvrtcInvalidOption;
    }
    return compile(p, o);
}

EMU_EXPORT int nvrtcGetPTXSize(void* program, std::size_t* size)
{
    Program* p = (Program*)program;
    if (!live(p)) return kNvrtcInvalidProgram;
    if (size == nullptr) return kNvrtcInvalidInput;
    if (!p->compiled) return kNvrtcInvalidProgram;
    *size = p->image.size() + 1;
    return kNvrtcSuccess;
}

EMU_EXPORT int nvrtcGetPTX(void* program, char* ptx)
{
    Program* p = (Program*)program;
    if (!live(p)) return kNvrtcInvalidProgram;
    if (ptx == nullptr) return kNvrtcInvalidInput;
    if (!p->compiled) return kNvrtcInvalidProgram;
    std::memcpy(ptx, p->image.c_str(), p->image.size() + 1);
    return kNvrtcSuccess;
}

// A real NVRTC gives a CUBIN for sm_XX targets; the emulator's image serves both.
EMU_EXPORT int nvrtcGetCUBINSize(void* program, std::size_t* size) { return nvrtcGetPTXSize(program, size); }
EMU_EXPORT int nvrtcGetCUBIN(void* program, char* cubin) { return nvrtcGetPTX(program, cubin); }

EMU_EXPORT int nvrtcGetProgramLogSize(void* program, std::size_t* size)
{
    Program* p = (Program*)program;
    if (!live(p)) return kNvrtcInvalidProgram;
    if (size == nullptr) return kNvrtcInvalidInput;
    *size = p->log.size() + 1;
    return kNvrtcSuccess;
}

EMU_EXPORT int nvrtcGetProgramLog(void* program, char* log)
{
    Program* p = (Program*)program;
    if (!live(p)) return kNvrtcInvalidProgram;
    if (log == nullptr) return kNvrtcInvalidInput;
    std::memcpy(log, p->log.c_str(), p->log.size() + 1);
    return kNvrtcSuccess;
}
