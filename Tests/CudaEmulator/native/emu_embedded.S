/* The files a kernel compile needs, embedded in libcudaemu.so so that it is self-contained: they are
   written to a private folder before the first nvrtcCompileProgram (emu_nvrtc.cpp). Each is NUL-terminated.
   The build passes -Wa,-I<this folder> so that .incbin finds them. */
    .section .rodata
    .globl cuda_emu_embedded_shim
    .hidden cuda_emu_embedded_shim
cuda_emu_embedded_shim:
    .incbin "cuda_emu_shim.h"
    .byte 0

    .globl cuda_emu_embedded_math
    .hidden cuda_emu_embedded_math
cuda_emu_embedded_math:
    .incbin "cuda_emu_math.h"
    .byte 0

    .globl cuda_emu_embedded_abi
    .hidden cuda_emu_embedded_abi
cuda_emu_embedded_abi:
    .incbin "cuda_emu_abi.h"
    .byte 0

    .globl cuda_emu_embedded_ld
    .hidden cuda_emu_embedded_ld
cuda_emu_embedded_ld:
    .incbin "emu_shared.ld"
    .byte 0

    .section .note.GNU-stack,"",@progbits
