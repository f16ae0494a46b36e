/* The binary contract between libcudaemu.so (the runtime) and the kernel modules its NVRTC builds.
 *
 * Plain C, no #include: this header is also read by every kernel module through cuda_emu_shim.h, and a
 * module must see no libc name that NVRTC would not declare. A module never links against the runtime by
 * name (.NET loads native libraries RTLD_LOCAL): the runtime passes it a table of functions, and the module
 * answers with its kernels and the addresses of its built-in variables.
 *
 * Change CUDA_EMU_ABI_VERSION whenever a struct below changes; bump CUDA_EMU_SHIM_REVISION whenever the
 * shim changes what a module computes. nvrtcVersion answers 99.<shim revision>, so the engine's PTX cache
 * (keyed by the NVRTC version) never serves an image built against an older shim. */
#ifndef CUDA_EMU_ABI_H
#define CUDA_EMU_ABI_H

#define CUDA_EMU_ABI_VERSION 1
#define CUDA_EMU_SHIM_REVISION 1
#define CUDA_EMU_MODULE_ENTRY __cuda_emu_module_v1
#define CUDA_EMU_MODULE_ENTRY_NAME "__cuda_emu_module_v1"
#define CUDA_EMU_MAX_PARAMS 512

/* __syncthreads_count/_and/_or */
#define CUDA_EMU_REDUCE_NONE 0
#define CUDA_EMU_REDUCE_COUNT 1
#define CUDA_EMU_REDUCE_AND 2
#define CUDA_EMU_REDUCE_OR 3

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cuda_emu_dim3 { unsigned x, y, z; } cuda_emu_dim3;

/* What the runtime offers a module. Every call names its call site (file, line) for error messages. */
typedef struct cuda_emu_runtime
{
    unsigned abi_version;
    /* __syncthreads and friends: op is CUDA_EMU_REDUCE_*; returns the reduction over the block (0 for NONE). */
    int (*barrier)(int op, int predicate, const char* file, int line);
    /* One round of a warp operation: deposits this lane's 8 bytes and waits for every existing, non-exited
     * lane named in mask. Returns 33 slots: [0..31] the lanes' values (0xFF bytes for lanes that did not
     * take part), [32] the mask of the lanes that did. Valid until this thread's next runtime call. */
    const unsigned long long* (*warp_exchange)(unsigned mask, unsigned long long value, const char* what,
                                               const char* file, int line);
    /* __trap, assert, a misuse seen by the shim: ends the launch with 719 and the message. Never returns. */
    void (*trap)(const char* message, const char* file, int line);
    /* The lanes of the calling thread's warp that exist and have not exited (__activemask). */
    unsigned (*active_mask)(void);
} cuda_emu_runtime;

/* One kernel of a module, as the registration template derives it from the kernel's signature. */
typedef struct cuda_emu_kernel
{
    const char* name;
    unsigned param_count;
    const unsigned* param_offsets;     /* in the packed parameter buffer, CUDA's layout (each aligned to its type) */
    const unsigned* param_sizes;
    const unsigned char* param_is_pointer;
    unsigned params_bytes;             /* size of the packed buffer */
    int max_threads;                   /* __launch_bounds__'s first argument, 0 when none */
    void (*run)(const void* params);   /* runs the kernel body once, for the current thread */
} cuda_emu_kernel;

/* What a module tells the runtime when it is loaded. */
typedef struct cuda_emu_module_info
{
    unsigned abi_version;
    unsigned shim_revision;
    const cuda_emu_kernel* kernels;
    unsigned kernel_count;
    cuda_emu_dim3* thread_idx;         /* the module's built-in variables, written by the runtime */
    cuda_emu_dim3* block_idx;
    cuda_emu_dim3* block_dim;
    cuda_emu_dim3* grid_dim;
    void** dynamic_shared;             /* the launch's dynamic shared memory */
    unsigned char* shared_begin;       /* the module's static __shared__ variables, poisoned at each block */
    unsigned char* shared_end;
    const cuda_emu_runtime** runtime;  /* where the module keeps the runtime's table */
} cuda_emu_module_info;

/* The one symbol a module exports. Returns 0, or the ABI version it was built for when they differ. */
typedef int (*cuda_emu_module_entry)(const cuda_emu_runtime* runtime, cuda_emu_module_info* info);

#ifdef __cplusplus
}
#endif

#endif
