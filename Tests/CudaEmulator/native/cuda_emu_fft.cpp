// cuFFT emulation: plans (create, configure, make, destroy), the six exec functions, as reference DFTs
// on the CPU (emu_dft.h). Semantics: notes/cuda-emulator.md §10 and native/LIBRARIES.md.
#include "emu_dft.h"
#include "emu_lib_error.h"
#include "emu_runtime.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#define EMU_FFT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using emu::dft::Complex;

enum Result
{
    kSuccess = 0,
    kInvalidPlan = 1,
    kInvalidType = 3,
    kInvalidValue = 4,
    kExecFailed = 6,
    kSetupFailed = 7,
    kInvalidSize = 8,
};

enum Type
{
    kC2C = 0x29,
    kR2C = 0x2a,
    kC2R = 0x2c,
    kZ2Z = 0x69,
    kD2Z = 0x6a,
    kZ2D = 0x6c,
};

bool is_double(int type) { return type == kZ2Z || type == kD2Z || type == kZ2D; }
bool real_in(int type) { return type == kR2C || type == kD2Z; }
bool real_out(int type) { return type == kC2R || type == kZ2D; }

const char* type_name(int type)
{
    switch (type)
    {
    case kC2C: return "C2C";
    case kR2C: return "R2C";
    case kC2R: return "C2R";
    case kZ2Z: return "Z2Z";
    case kD2Z: return "D2Z";
    case kZ2D: return "Z2D";
    default: return "?";
    }
}

// One side (input or output) of a plan: logical shape and where element (b, x0, x1, x2) lives, in units of
// the side's element (a real or a complex number):  b·dist + ((x0·embed[1] + x1)·embed[2] + x2)·stride.
struct Side
{
    int rank = 0;
    long long dims[3] = {1, 1, 1};   // logical sizes
    long long embed[3] = {1, 1, 1};  // storage sizes; embed[0] never addresses
    long long stride = 1, dist = 1;
    bool is_complex = false;
    std::size_t scalar = 4;          // bytes of one real component

    std::size_t elem_bytes() const { return scalar * (is_complex ? 2 : 1); }
    long long count() const { return dims[0] * dims[1] * dims[2]; }
    long long offset(long long b, long long flat) const
    {
        long long x2 = rank == 3 ? flat % dims[2] : 0;
        long long rest = rank == 3 ? flat / dims[2] : flat;
        long long x1 = rank >= 2 ? rest % dims[1] : 0;
        long long x0 = rank >= 2 ? rest / dims[1] : rest;
        long long position = rank == 1 ? x0 : rank == 2 ? x0 * embed[1] + x1 : (x0 * embed[1] + x1) * embed[2] + x2;
        return b * dist + position * stride;
    }
};

struct Plan
{
    bool alive = true;
    bool made = false;
    bool auto_allocation = true;
    int type = 0;
    int rank = 0;
    long long n[3] = {1, 1, 1};
    long long batch = 1;
    bool basic = true;  // both embeds NULL
    Side in, out;
    std::size_t work_size = 0;
    std::uintptr_t work_area = 0;
    void* stream = nullptr;
};

std::mutex g_mutex;
std::map<int, Plan> g_plans;  // destroyed plans stay, marked dead: handles are never reused
int g_next = 1;

int fail(int code, const char* function, const std::string& message) { return emu::lib::fail(code, "cufft", function, message); }

std::string hex(std::uintptr_t p)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%" PRIxPTR, p);
    return buffer;
}

// Runs `use` on the plan under the lock, after checking it exists and is alive (and is made, if asked).
template <class Use>
int with_plan(int handle, const char* function, bool must_be_made, Use use)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_plans.find(handle);
    if (it == g_plans.end()) return fail(kInvalidPlan, function, "plan " + std::to_string(handle) + " was not made by cufftCreate");
    if (!it->second.alive) return fail(kInvalidPlan, function, "plan " + std::to_string(handle) + " was destroyed");
    if (must_be_made && !it->second.made) return fail(kInvalidPlan, function, "plan " + std::to_string(handle) + " has not been made (cufftMakePlan*)");
    return use(it->second);
}

std::string dims_text(const long long* v, int rank)
{
    std::string s = "{";
    for (int i = 0; i < rank; i++) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "}";
}

// Fills one side's layout. Logical sizes: n, except the complex side of a real transform, whose last
// axis is n/2 + 1.
int layout(const char* fn, const char* which, Side* side, const Plan& plan, bool is_complex, const long long* embed, long long stride, long long dist)
{
    side->rank = plan.rank;
    side->is_complex = is_complex;
    side->scalar = is_double(plan.type) ? 8 : 4;
    for (int i = 0; i < plan.rank; i++) side->dims[i] = plan.n[i];
    if (is_complex && plan.type != kC2C && plan.type != kZ2Z) side->dims[plan.rank - 1] = plan.n[plan.rank - 1] / 2 + 1;
    if (embed == nullptr)
    {
        for (int i = 0; i < plan.rank; i++) side->embed[i] = side->dims[i];
        side->stride = 1;
        side->dist = side->count();
        return kSuccess;
    }
    for (int i = 1; i < plan.rank; i++)
        if (embed[i] < side->dims[i])
            return fail(kInvalidValue, fn, std::string(which) + "embed[" + std::to_string(i) + "] = " + std::to_string(embed[i]) +
                " is smaller than the logical size " + std::to_string(side->dims[i]) + " of that axis");
    if (stride < 1 || dist < 1)
        return fail(kInvalidValue, fn, std::string(which) + "stride = " + std::to_string(stride) + ", " + which + "dist = " + std::to_string(dist) + ": both must be at least 1");
    for (int i = 0; i < plan.rank; i++) side->embed[i] = embed[i];
    side->stride = stride;
    side->dist = dist;
    return kSuccess;
}

// The deterministic work size: one complex element of the plan's precision per complex-side element,
// rounded up to 256 bytes. Never zero, so the work-area rules always apply.
std::size_t work_size(const Plan& plan)
{
    const Side& complex_side = real_in(plan.type) ? plan.out : plan.in;
    std::size_t bytes = static_cast<std::size_t>(complex_side.count()) * static_cast<std::size_t>(plan.batch) * complex_side.elem_bytes();
    return (bytes + 255) / 256 * 256;
}

int make_plan(const char* fn, int handle, int rank, const long long* n, const long long* inembed, long long istride, long long idist,
    const long long* onembed, long long ostride, long long odist, int type, long long batch, std::size_t* work)
{
    return with_plan(handle, fn, false, [&](Plan& plan) {
        if (plan.made) return fail(kInvalidPlan, fn, "plan " + std::to_string(handle) + " was already made");
        if (rank < 1 || rank > 3) return fail(kInvalidSize, fn, "rank = " + std::to_string(rank) + " is not 1, 2 or 3");
        if (n == nullptr) return fail(kInvalidValue, fn, "n is null");
        long long total = 1;
        for (int i = 0; i < rank; i++)
        {
            if (n[i] < 1) return fail(kInvalidSize, fn, "n = " + dims_text(n, rank) + ": every size must be at least 1");
            total *= n[i];
            if (total > (1LL << 40)) return fail(kInvalidSize, fn, "n = " + dims_text(n, rank) + " is too large for the emulator");
        }
        if (batch < 1) return fail(kInvalidSize, fn, "batch = " + std::to_string(batch) + " must be at least 1");
        if (type != kC2C && type != kR2C && type != kC2R && type != kZ2Z && type != kD2Z && type != kZ2D)
            return fail(kInvalidType, fn, "type = 0x" + [&] { char b[16]; std::snprintf(b, sizeof b, "%x", type); return std::string(b); }() + " is not a cufftType");
        if (!emu::initialized() || emu::current_context() == nullptr)
            return fail(kSetupFailed, fn, "no CUDA context is current on this thread (a plan belongs to the context current when it is made)");
        if ((inembed == nullptr) != (onembed == nullptr))
            return fail(kInvalidValue, fn, std::string(inembed ? "onembed" : "inembed") + " is NULL but " + (inembed ? "inembed" : "onembed") +
                " is not: pass both (advanced layout) or neither (basic layout)");
        Plan made = plan;
        made.type = type;
        made.rank = rank;
        for (int i = 0; i < rank; i++) made.n[i] = n[i];
        made.batch = batch;
        made.basic = inembed == nullptr;
        if (int r = layout(fn, "i", &made.in, made, !real_in(type), inembed, istride, idist)) return r;
        if (int r = layout(fn, "o", &made.out, made, !real_out(type), onembed, ostride, odist)) return r;
        made.work_size = work_size(made);
        made.made = true;
        plan = made;
        if (work) *work = made.work_size;
        return static_cast<int>(kSuccess);
    });
}

// Bytes [first, first + bytes) that a side touches over the whole batch (every offset is >= 0).
void span(const Side& side, long long batch, std::uintptr_t base, std::uintptr_t* first, std::size_t* bytes)
{
    long long last = side.offset(batch - 1, side.count() - 1);
    *first = base;
    *bytes = static_cast<std::size_t>(last + 1) * side.elem_bytes();
}

Complex read_elem(const Side& side, std::uintptr_t base, long long offset)
{
    const char* p = reinterpret_cast<const char*>(base) + offset * static_cast<long long>(side.elem_bytes());
    if (side.scalar == 8)
    {
        const double* d = reinterpret_cast<const double*>(p);
        return {d[0], side.is_complex ? d[1] : 0.0};
    }
    const float* f = reinterpret_cast<const float*>(p);
    return {f[0], side.is_complex ? f[1] : 0.0};
}

// Rounds to float once, at the very end, for the single-precision types.
void write_elem(const Side& side, std::uintptr_t base, long long offset, Complex v)
{
    char* p = reinterpret_cast<char*>(base) + offset * static_cast<long long>(side.elem_bytes());
    if (side.scalar == 8)
    {
        double* d = reinterpret_cast<double*>(p);
        d[0] = v.re;
        if (side.is_complex) d[1] = v.im;
        return;
    }
    float* f = reinterpret_cast<float*>(p);
    f[0] = static_cast<float>(v.re);
    if (side.is_complex) f[1] = static_cast<float>(v.im);
}

// Poisons every element of a side, merging adjacent elements into one call.
void poison_side(const Side& side, long long batch, std::uintptr_t base)
{
    std::size_t size = side.elem_bytes();
    std::uintptr_t run_start = 0;
    std::size_t run_bytes = 0;
    for (long long b = 0; b < batch; b++)
        for (long long e = 0; e < side.count(); e++)
        {
            std::uintptr_t p = base + static_cast<std::uintptr_t>(side.offset(b, e)) * size;
            if (run_bytes && p == run_start + run_bytes) { run_bytes += size; continue; }
            if (run_bytes) emu::poison(reinterpret_cast<void*>(run_start), run_bytes);
            run_start = p;
            run_bytes = size;
        }
    if (run_bytes) emu::poison(reinterpret_cast<void*>(run_start), run_bytes);
}

// The transform of one batch member, in place on a dense double array: `data` holds the input side's
// logical shape on entry and the output side's on return (`real` receives the output of C2R/Z2D).
void transform_member(const Plan& plan, std::vector<Complex>& data, std::vector<double>& real, int sign)
{
    int r = plan.rank;
    long long dims[3];
    for (int i = 0; i < r; i++) dims[i] = plan.n[i];
    long long last = plan.n[r - 1], h = last / 2 + 1, lines = plan.in.count() / (real_out(plan.type) ? h : last);
    if (real_in(plan.type))
    {
        // Forward along the last axis on the real data, keep the first n/2 + 1 bins, then the other axes.
        emu::dft::transform_axis(data.data(), dims, r, r - 1, -1);
        std::vector<Complex> kept(lines * h);
        for (long long l = 0; l < lines; l++)
            for (long long k = 0; k < h; k++) kept[l * h + k] = data[l * last + k];
        data.swap(kept);
        dims[r - 1] = h;
        for (int axis = 0; axis < r - 1; axis++) emu::dft::transform_axis(data.data(), dims, r, axis, -1);
        return;
    }
    if (real_out(plan.type))
    {
        // The libraries' definition for rank > 1: inverse C2C over every axis but the last, then C2R on it.
        dims[r - 1] = h;
        for (int axis = 0; axis < r - 1; axis++) emu::dft::transform_axis(data.data(), dims, r, axis, +1);
        real.assign(lines * last, 0.0);
        emu::dft::c2r_last_axis(data.data(), real.data(), lines, last);
        return;
    }
    for (int axis = 0; axis < r; axis++) emu::dft::transform_axis(data.data(), dims, r, axis, sign);
}

int exec(const char* fn, int handle, int expected_type, const void* idata, void* odata, int direction)
{
    Plan plan;
    int status = with_plan(handle, fn, true, [&](Plan& p) {
        plan = p;
        return static_cast<int>(kSuccess);
    });
    if (status) return status;
    if (plan.type != expected_type)
        return fail(kInvalidType, fn, std::string("plan ") + std::to_string(handle) + " is a " + type_name(plan.type) + " plan, not " + type_name(expected_type));
    bool c2c = expected_type == kC2C || expected_type == kZ2Z;
    if (c2c && direction != -1 && direction != 1)
        return fail(kInvalidValue, fn, "direction = " + std::to_string(direction) + " is not -1 (CUFFT_FORWARD) or +1 (CUFFT_INVERSE)");
    if (!emu::is_live_stream(plan.stream))
        return fail(kExecFailed, fn, "the plan's stream " + hex(reinterpret_cast<std::uintptr_t>(plan.stream)) + " was destroyed");
    if (!plan.auto_allocation && plan.work_area == 0)
        return fail(kExecFailed, fn, "auto allocation is off and no work area was set (cufftSetWorkArea)");
    if (plan.work_area != 0 && emu::find_device_range(plan.work_area, plan.work_size, nullptr) != emu::Range::Inside)
        return fail(kExecFailed, fn, "work area of " + std::to_string(plan.work_size) + " bytes: " + emu::describe_range(plan.work_area, plan.work_size));

    auto in_base = reinterpret_cast<std::uintptr_t>(idata), out_base = reinterpret_cast<std::uintptr_t>(odata);
    bool in_place = in_base == out_base;
    // The basic layout of an in-place real transform pads the real rows to 2·(n/2 + 1) values, so that
    // the complex rows fit over them (cuFFT's and FFTW's convention).
    if (in_place && plan.basic && (real_in(plan.type) || real_out(plan.type)))
    {
        Side& real_side = real_in(plan.type) ? plan.in : plan.out;
        real_side.embed[plan.rank - 1] = 2 * (plan.n[plan.rank - 1] / 2 + 1);
        real_side.dist = real_side.count() / plan.n[plan.rank - 1] * real_side.embed[plan.rank - 1];
    }
    std::uintptr_t in_first, out_first;
    std::size_t in_bytes, out_bytes;
    span(plan.in, plan.batch, in_base, &in_first, &in_bytes);
    span(plan.out, plan.batch, out_base, &out_first, &out_bytes);
    if (emu::find_device_range(in_first, in_bytes, nullptr) != emu::Range::Inside)
        return fail(kExecFailed, fn, "input: " + emu::describe_range(in_first, in_bytes));
    if (emu::find_device_range(out_first, out_bytes, nullptr) != emu::Range::Inside)
        return fail(kExecFailed, fn, "output: " + emu::describe_range(out_first, out_bytes));
    if (!in_place && in_first < out_first + out_bytes && out_first < in_first + in_bytes)
        return fail(kInvalidValue, fn, "input " + hex(in_first) + " + " + std::to_string(in_bytes) + " bytes and output " + hex(out_first) + " + " +
            std::to_string(out_bytes) + " bytes overlap without being the same buffer (in place)");

    std::lock_guard<std::mutex> lock(emu::exec_mutex());
    // Read the whole input before writing anything: exact in-place transforms then work.
    long long in_count = plan.in.count(), out_count = plan.out.count();
    std::vector<std::vector<Complex>> members(plan.batch, std::vector<Complex>(in_count));
    for (long long b = 0; b < plan.batch; b++)
        for (long long e = 0; e < in_count; e++) members[b][e] = read_elem(plan.in, in_base, plan.in.offset(b, e));
    // cuFFT may overwrite a C2R input, out of place too: make anything that relies on it see NaN.
    if (real_out(plan.type)) poison_side(plan.in, plan.batch, in_base);
    std::vector<double> real;
    for (long long b = 0; b < plan.batch; b++)
    {
        transform_member(plan, members[b], real, c2c ? direction : 0);
        for (long long e = 0; e < out_count; e++)
            write_elem(plan.out, out_base, plan.out.offset(b, e), real_out(plan.type) ? Complex{real[e], 0} : members[b][e]);
    }
    if (plan.work_area != 0) emu::poison(reinterpret_cast<void*>(plan.work_area), plan.work_size);
    emu::count_library_call();
    return kSuccess;
}

std::vector<long long> widen(const int* v, int rank)
{
    std::vector<long long> out;
    if (v && rank >= 1 && rank <= 3) out.assign(v, v + rank);
    return out;
}

const long long* data_or_null(const int* original, const std::vector<long long>& widened)
{
    return original == nullptr ? nullptr : widened.data();
}

} // namespace

// ---- plans --------------------------------------------------------------------------------------------

EMU_FFT_EXPORT int cufftCreate(int* plan)
{
    if (plan == nullptr) return fail(kInvalidValue, "cufftCreate", "the plan pointer is null");
    std::lock_guard<std::mutex> lock(g_mutex);
    int handle = g_next++;
    g_plans[handle] = Plan{};
    *plan = handle;
    return kSuccess;
}

EMU_FFT_EXPORT int cufftSetAutoAllocation(int plan, int automatic)
{
    const char* fn = "cufftSetAutoAllocation";
    return with_plan(plan, fn, false, [&](Plan& p) {
        if (p.made) return fail(kInvalidPlan, fn, "plan " + std::to_string(plan) + " was already made: call this between cufftCreate and cufftMakePlan*");
        p.auto_allocation = automatic != 0;
        return static_cast<int>(kSuccess);
    });
}

EMU_FFT_EXPORT int cufftMakePlanMany64(int plan, int rank, long long* n, long long* inembed, long long istride, long long idist,
    long long* onembed, long long ostride, long long odist, int type, long long batch, std::size_t* work)
{
    return make_plan("cufftMakePlanMany64", plan, rank, n, inembed, istride, idist, onembed, ostride, odist, type, batch, work);
}

EMU_FFT_EXPORT int cufftMakePlanMany(int plan, int rank, int* n, int* inembed, int istride, int idist,
    int* onembed, int ostride, int odist, int type, int batch, std::size_t* work)
{
    std::vector<long long> wn = widen(n, rank), wi = widen(inembed, rank), wo = widen(onembed, rank);
    return make_plan("cufftMakePlanMany", plan, rank, data_or_null(n, wn), data_or_null(inembed, wi), istride, idist,
        data_or_null(onembed, wo), ostride, odist, type, batch, work);
}

// Create + make in one call; a plan that fails to make is destroyed and not returned.
EMU_FFT_EXPORT int cufftPlanMany(int* plan, int rank, int* n, int* inembed, int istride, int idist,
    int* onembed, int ostride, int odist, int type, int batch)
{
    if (plan == nullptr) return fail(kInvalidValue, "cufftPlanMany", "the plan pointer is null");
    int handle;
    cufftCreate(&handle);
    std::vector<long long> wn = widen(n, rank), wi = widen(inembed, rank), wo = widen(onembed, rank);
    int status = make_plan("cufftPlanMany", handle, rank, data_or_null(n, wn), data_or_null(inembed, wi), istride, idist,
        data_or_null(onembed, wo), ostride, odist, type, batch, nullptr);
    if (status != kSuccess)
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_plans[handle].alive = false;
        return status;
    }
    *plan = handle;
    return kSuccess;
}

EMU_FFT_EXPORT int cufftGetSize(int plan, std::size_t* work)
{
    const char* fn = "cufftGetSize";
    if (work == nullptr) return fail(kInvalidValue, fn, "the size pointer is null");
    return with_plan(plan, fn, true, [&](Plan& p) {
        *work = p.work_size;
        return static_cast<int>(kSuccess);
    });
}

// Only remembered here; exec checks that it names a live device allocation of the work size.
EMU_FFT_EXPORT int cufftSetWorkArea(int plan, void* work)
{
    return with_plan(plan, "cufftSetWorkArea", false, [&](Plan& p) {
        p.work_area = reinterpret_cast<std::uintptr_t>(work);
        return static_cast<int>(kSuccess);
    });
}

EMU_FFT_EXPORT int cufftSetStream(int plan, void* stream)
{
    const char* fn = "cufftSetStream";
    return with_plan(plan, fn, false, [&](Plan& p) {
        if (!emu::is_live_stream(stream)) return fail(kInvalidValue, fn, "stream " + hex(reinterpret_cast<std::uintptr_t>(stream)) + " is not a live stream");
        p.stream = stream;
        return static_cast<int>(kSuccess);
    });
}

EMU_FFT_EXPORT int cufftDestroy(int plan)
{
    return with_plan(plan, "cufftDestroy", false, [](Plan& p) {
        p.alive = false;
        return static_cast<int>(kSuccess);
    });
}

// ---- exec ---------------------------------------------------------------------------------------------

EMU_FFT_EXPORT int cufftExecC2C(int plan, void* idata, void* odata, int direction) { return exec("cufftExecC2C", plan, kC2C, idata, odata, direction); }
EMU_FFT_EXPORT int cufftExecR2C(int plan, void* idata, void* odata) { return exec("cufftExecR2C", plan, kR2C, idata, odata, 0); }
EMU_FFT_EXPORT int cufftExecC2R(int plan, void* idata, void* odata) { return exec("cufftExecC2R", plan, kC2R, idata, odata, 0); }
EMU_FFT_EXPORT int cufftExecZ2Z(int plan, void* idata, void* odata, int direction) { return exec("cufftExecZ2Z", plan, kZ2Z, idata, odata, direction); }
EMU_FFT_EXPORT int cufftExecD2Z(int plan, void* idata, void* odata) { return exec("cufftExecD2Z", plan, kD2Z, idata, odata, 0); }
EMU_FFT_EXPORT int cufftExecZ2D(int plan, void* idata, void* odata) { return exec("cufftExecZ2D", plan, kZ2D, idata, odata, 0); }
