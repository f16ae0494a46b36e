// Modules and launches: cuModuleLoadData decodes an emulator image into a memfd and dlopens it (each load its
// own copy, as each load of a module on a device has its own globals); cuLaunchKernel checks everything a
// device would reject or silently get wrong, then runs the grid (emu_scheduler.cpp).
#include "emu_internal.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>
#include <vector>

namespace emu {

struct Function;

struct Module
{
    Context* context;
    void* library;
    int fd;   // the memfd the library was loaded from, open while it is loaded: dlopen matches libraries by name
              // first, so /proc/self/fd/N must not name another live module
    cuda_emu_module_info info;
    std::uintptr_t text_begin, text_end;
    std::vector<Function*> functions;
};

struct Function
{
    Module* module;
    const cuda_emu_kernel* kernel;
    int max_dynamic_shared;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
};

namespace {

constexpr int kDefaultSharedLimit = 48 << 10;
constexpr int kOptInSharedLimit = 232448;
constexpr unsigned kMaxParamBytes = 4096;

std::mutex g_modules_mutex;
std::set<Module*> g_modules;
std::set<Function*> g_functions;

struct TextSearch { std::uintptr_t base, begin, end; };

// The executable segment of the loaded module, for the watchdog (which stops only kernel code).
void find_text(void* library, std::uintptr_t* begin, std::uintptr_t* end)
{
    link_map* map = nullptr;
    *begin = *end = 0;
    if (dlinfo(library, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return;
    TextSearch search{(std::uintptr_t)map->l_addr, 0, 0};
    dl_iterate_phdr([](dl_phdr_info* info, std::size_t, void* data) {
        auto* s = (TextSearch*)data;
        if ((std::uintptr_t)info->dlpi_addr != s->base) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i)
        {
            const ElfW(Phdr)& p = info->dlpi_phdr[i];
            if (p.p_type == PT_LOAD && (p.p_flags & PF_X))
            {
                s->begin = s->base + p.p_vaddr;
                s->end = s->begin + p.p_memsz;
                return 1;
            }
        }
        return 0;
    }, &search);
    *begin = search.begin;
    *end = search.end;
}

// Rejects images that are not the emulator's, with the driver's code for each kind.
int decode_image(const void* image, std::string* library)
{
    const char* text = (const char*)image;
    std::size_t magic = std::strlen(kImageMagic);
    if (std::memcmp(text, "\x7f" "ELF", 4) == 0)
        return driver_fail(kInvalidImage, "cuModuleLoadData", "a CUBIN (ELF) image: the CUDA emulator runs only images made by its own NVRTC");
    if (std::memcmp(text, "\x50\xed\x55\xba", 4) == 0)
        return driver_fail(kInvalidImage, "cuModuleLoadData", "a fatbin image: the CUDA emulator runs only images made by its own NVRTC");
    if (std::strncmp(text, kImageMagic, magic) != 0)
    {
        bool ptx = std::strstr(text, ".version") || std::strstr(text, ".target") || std::strncmp(text, "//", 2) == 0;
        return driver_fail(ptx ? kInvalidPtx : kInvalidImage, "cuModuleLoadData",
                           ptx ? "real PTX: the CUDA emulator cannot JIT it; compile the source with the emulator's NVRTC"
                               : "not an image of the CUDA emulator's NVRTC (it starts with \"//CUDA-EMU-IMAGE v1\")");
    }
    const char* body = text + magic;
    std::size_t length = std::strcspn(body, "\n");
    if (!base64_decode(body, length, library) || library->size() < 64)
        return driver_fail(kInvalidImage, "cuModuleLoadData", "the emulator image is corrupt (bad base64)");
    return kSuccess;
}

bool live_function(Function* f)
{
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    return g_functions.count(f) != 0;
}

void unload(Module* m)   // caller holds exec_mutex and has removed m from g_modules
{
    {
        std::lock_guard<std::mutex> lock(g_modules_mutex);
        for (Function* f : m->functions) { g_functions.erase(f); delete f; }
    }
    dlclose(m->library);
    close(m->fd);
    delete m;
}

} // namespace

void unload_context_modules(Context* context)
{
    std::vector<Module*> mine;
    {
        std::lock_guard<std::mutex> lock(g_modules_mutex);
        for (auto it = g_modules.begin(); it != g_modules.end();)
            if ((*it)->context == context) { mine.push_back(*it); it = g_modules.erase(it); } else ++it;
    }
    for (Module* m : mine) unload(m);
}

} // namespace emu

using namespace emu;

EMU_EXPORT CUresult cuModuleLoadData(void** module, const void* image)
{
    Context* c;
    if (int e = require_context("cuModuleLoadData", &c)) return e;
    if (module == nullptr || image == nullptr) return driver_fail(kInvalidValue, "cuModuleLoadData", "module or image is null");
    std::string bytes;
    if (int e = decode_image(image, &bytes)) return e;
    int fd = memfd_create("cuda-emu-module", MFD_CLOEXEC);
    if (fd < 0) return driver_fail(kInvalidImage, "cuModuleLoadData", "memfd_create failed");
    std::size_t written = 0;
    while (written < bytes.size())
    {
        ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
        if (n <= 0) { close(fd); return driver_fail(kInvalidImage, "cuModuleLoadData", "cannot write the module to its memfd"); }
        written += (std::size_t)n;
    }
    std::string path = format("/proc/self/fd/%d", fd);
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr)
    {
        close(fd);
        return driver_fail(kInvalidImage, "cuModuleLoadData", format("dlopen of the module failed: %s", dlerror()));
    }
    auto entry = (cuda_emu_module_entry)dlsym(library, CUDA_EMU_MODULE_ENTRY_NAME);
    Module* m = new Module{c, library, fd, {}, 0, 0, {}};
    int abi = entry ? entry(runtime_table(), &m->info) : -1;
    if (abi != 0)
    {
        dlclose(library);
        close(fd);
        delete m;
        return driver_fail(kInvalidImage, "cuModuleLoadData",
                           abi < 0 ? "the image has no module entry" : format("the image was built for emulator ABI %d, this emulator has %d", abi, CUDA_EMU_ABI_VERSION));
    }
    find_text(library, &m->text_begin, &m->text_end);
    {
        std::lock_guard<std::mutex> lock(g_modules_mutex);
        g_modules.insert(m);
    }
    counters().modules_loaded++;
    *module = m;
    return kSuccess;
}

EMU_EXPORT CUresult cuModuleGetFunction(void** function, void* module, const char* name)
{
    Context* c;
    if (int e = require_context("cuModuleGetFunction", &c)) return e;
    if (function == nullptr || name == nullptr) return driver_fail(kInvalidValue, "cuModuleGetFunction", "hfunc or name is null");
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    Module* m = (Module*)module;
    if (!g_modules.count(m)) return driver_fail(kInvalidHandle, "cuModuleGetFunction", format("%p is not a loaded module", module));
    for (Function* f : m->functions)
        if (!std::strcmp(f->kernel->name, name)) { *function = f; return kSuccess; }
    std::string names;
    for (unsigned i = 0; i < m->info.kernel_count; ++i)
    {
        const cuda_emu_kernel* k = &m->info.kernels[i];
        if (!std::strcmp(k->name, name))
        {
            Function* f = new Function{m, k, kDefaultSharedLimit};
            m->functions.push_back(f);
            g_functions.insert(f);
            *function = f;
            return kSuccess;
        }
        names += (i ? ", " : "") + std::string(k->name);
    }
    return driver_fail(kNotFound, "cuModuleGetFunction",
                       format("no kernel '%s' in the module; it has: %s (only extern \"C\" kernels are found by their plain names)",
                              name, names.empty() ? "none" : names.c_str()));
}

EMU_EXPORT CUresult cuModuleUnload(void* module)
{
    if (!initialized()) return driver_fail(kNotInitialized, "cuModuleUnload", "cuInit has not been called");
    std::lock_guard<std::mutex> exec(exec_mutex());
    {
        std::lock_guard<std::mutex> lock(g_modules_mutex);
        if (!g_modules.erase((Module*)module))
            return driver_fail(kInvalidHandle, "cuModuleUnload", format("%p is not a loaded module (unloaded twice?)", module));
    }
    unload((Module*)module);
    return kSuccess;
}

EMU_EXPORT CUresult cuFuncSetAttribute(void* function, int attribute, int value)
{
    if (!initialized()) return driver_fail(kNotInitialized, "cuFuncSetAttribute", "cuInit has not been called");
    if (!live_function((Function*)function)) return driver_fail(kInvalidHandle, "cuFuncSetAttribute", format("%p is not a live function", function));
    Function* f = (Function*)function;
    if (attribute != 8)
        return driver_fail(kInvalidValue, "cuFuncSetAttribute",
                           format("attribute %d: the emulator sets only 8 (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)", attribute));
    int static_bytes = (int)(f->module->info.shared_end - f->module->info.shared_begin);
    if (value < 0 || value > kOptInSharedLimit - static_bytes)
        return driver_fail(kInvalidValue, "cuFuncSetAttribute",
                           format("kernel '%s': %d bytes of dynamic shared memory is more than the device's opt-in limit of %d bytes "
                                  "less the module's %d bytes of static shared memory", f->kernel->name, value, kOptInSharedLimit, static_bytes));
    f->max_dynamic_shared = value;
    return kSuccess;
}

EMU_EXPORT CUresult cuFuncGetParamInfo(void* function, std::size_t index, std::size_t* offset, std::size_t* size)
{
    if (!initialized()) return driver_fail(kNotInitialized, "cuFuncGetParamInfo", "cuInit has not been called");
    if (!live_function((Function*)function)) return driver_fail(kInvalidHandle, "cuFuncGetParamInfo", format("%p is not a live function", function));
    const cuda_emu_kernel* k = ((Function*)function)->kernel;
    if (index >= k->param_count)
        return driver_fail(kInvalidValue, "cuFuncGetParamInfo", format("kernel '%s' has %u parameters, not %zu", k->name, k->param_count, index + 1));
    if (offset) *offset = k->param_offsets[index];
    if (size) *size = k->param_sizes[index];
    return kSuccess;
}

EMU_EXPORT CUresult cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                   unsigned shared_bytes, void* stream, void** params, void** extra)
{
    const char* fn = "cuLaunchKernel";
    Context* c;
    if (int e = require_context(fn, &c)) return e;
    if (!live_function((Function*)function)) return driver_fail(kInvalidHandle, fn, format("%p is not a live function (its module unloaded?)", function));
    Function* f = (Function*)function;
    const cuda_emu_kernel* k = f->kernel;
    std::string who = format("kernel '%s' (grid (%u,%u,%u), block (%u,%u,%u))", k->name, gx, gy, gz, bx, by, bz);
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0)
        return driver_fail(kInvalidValue, fn, who + ": a grid or block dimension is 0");
    if (gx > 2147483647u || gy > 65535 || gz > 65535)
        return driver_fail(kInvalidValue, fn, who + ": the grid is at most (2147483647, 65535, 65535)");
    if (bx > 1024 || by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024)
        return driver_fail(kInvalidValue, fn, who + ": a block is at most (1024, 1024, 64) and 1024 threads in all");
    unsigned threads = bx * by * bz;
    if (k->max_threads > 0 && threads > (unsigned)k->max_threads)
        return driver_fail(kLaunchOutOfResources, fn, format("%s: %u threads per block, but the kernel was compiled with __launch_bounds__(%d)",
                                                             who.c_str(), threads, k->max_threads));
    if (shared_bytes > (unsigned)f->max_dynamic_shared)
        return driver_fail(kInvalidValue, fn,
                           format("%s: %u bytes of dynamic shared memory; the limit is %d bytes%s", who.c_str(), shared_bytes, f->max_dynamic_shared,
                                  f->max_dynamic_shared == kDefaultSharedLimit
                                      ? " (48 KiB) unless cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) raises it" : ""));
    if (!is_live_stream(stream)) return driver_fail(kInvalidHandle, fn, format("%s: stream %p is not a live stream", who.c_str(), stream));
    if (extra != nullptr) return driver_fail(kInvalidValue, fn, who + ": the emulator takes parameters through kernelParams only (extra must be null)");
    if (k->params_bytes > kMaxParamBytes)
        return driver_fail(kInvalidValue, fn, format("%s: %u bytes of parameters, more than %u", who.c_str(), k->params_bytes, kMaxParamBytes));
    if (k->param_count > 0 && params == nullptr)
        return driver_fail(kInvalidValue, fn, format("%s: the kernel has %u parameters but kernelParams is null", who.c_str(), k->param_count));
    alignas(64) unsigned char packed[kMaxParamBytes];
    std::vector<mem::Block*> blocks;
    for (unsigned i = 0; i < k->param_count; ++i)
    {
        if (params[i] == nullptr) return driver_fail(kInvalidValue, fn, format("%s: kernelParams[%u] is null", who.c_str(), i));
        std::memcpy(packed + k->param_offsets[i], params[i], k->param_sizes[i]);
        if (!k->param_is_pointer[i]) continue;
        std::uintptr_t p;
        std::memcpy(&p, packed + k->param_offsets[i], sizeof p);
        if (p == 0) continue;
        mem::PointerCheck check = mem::check_pointer(p);
        std::string what = format("%s: parameter %u (a pointer) = 0x%lx", who.c_str(), i, (unsigned long)p);
        const Allocation& a = check.allocation;
        std::string name = format("allocation #%d (%zu bytes at 0x%lx)", a.id, a.bytes, (unsigned long)a.base);
        switch (check.range)
        {
            case Range::Inside:
                if (a.host && strict())
                    return driver_fail(kInvalidValue, fn, what + " is in pinned host " + name + ", not device memory (CUDA_EMU_STRICT=0 allows it)");
                if (check.block) blocks.push_back(check.block);
                break;
            case Range::Freed: return driver_fail(kInvalidValue, fn, what + " is in a freed " + name);
            case Range::Outside:
                return driver_fail(kInvalidValue, fn, what + (p < a.base ? format(" lies %lu bytes before ", (unsigned long)(a.base - p))
                                                                        : format(" lies %lu bytes past the end of ", (unsigned long)(p - a.base - a.bytes))) + name);
            case Range::Unknown:
                return driver_fail(kInvalidValue, fn, what + " is not in any device allocation (a host pointer, or arguments in the wrong order?)");
        }
    }
    LaunchSpec spec{k->name, k, &f->module->info, f->module->text_begin, f->module->text_end,
                    cuda_emu_dim3{gx, gy, gz}, cuda_emu_dim3{bx, by, bz}, shared_bytes, packed};
    std::string message;
    int error;
    {
        std::lock_guard<std::mutex> lock(exec_mutex());
        error = run_launch(spec, &message);
        std::string damage = mem::check_red_zones(blocks.data(), blocks.size());
        if (!error && !damage.empty()) { error = kIllegalAddress; message = damage; }
    }
    if (error == 0) return kSuccess;
    std::string detail = who + ": " + message;
    if (error >= 700) set_sticky(c, error, detail);
    return driver_fail(error, fn, detail);
}
