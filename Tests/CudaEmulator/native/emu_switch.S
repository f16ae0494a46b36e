/* The fibers' context switch (x86-64 System V). emu_switch saves the callee-saved registers, MXCSR and the
   x87 control word on the current stack, stores the stack pointer in *save_sp, loads load_sp and restores
   the same set from there. A new fiber's stack is pre-built (emu_scheduler.cpp, prepare_fiber) so that the
   first switch "returns" into emu_fiber_trampoline, which calls r12(rbx). 25 instructions, no system call:
   glibc's swapcontext makes a sigprocmask call per switch and is about 9 times slower here. */
    .text
    .p2align 4
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch, @function
/* void emu_switch(void** save_sp, void* load_sp) */
emu_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size emu_switch, .-emu_switch

    .p2align 4
    .globl emu_fiber_trampoline
    .hidden emu_fiber_trampoline
    .type emu_fiber_trampoline, @function
emu_fiber_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %rbx, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size emu_fiber_trampoline, .-emu_fiber_trampoline

    .section .note.GNU-stack,"",@progbits
