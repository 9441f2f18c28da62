/*
 * The asynchronous preemption trampoline (Go's asyncPreempt, made safe for C code).
 *
 * The SIGURG handler (src/preempt/asyncpreempt.rs) found the goroutine at a safe point and
 * rewrote the interrupted context so that, when the handler returns, this thread "calls" us:
 *
 *     rsp_new = rsp - RED_ZONE - 8   step over the System V red zone (C code keeps live data in
 *     [rsp_new] = interrupted rip    the 128 bytes below rsp; Go's plain pushCall clobbers it)
 *     rip = gmp_async_preempt
 *
 * So on entry every register holds the interrupted code's value, and (%rsp) is where to go
 * back to. We save the flags, every general register and the full vector state (XSAVE of every
 * component enabled in XCR0: AVX/AVX-512 upper halves, MXCSR, x87 state -- FXSAVE alone loses
 * the upper halves), call the runtime (which parks this goroutine and later resumes it on this
 * same thread), restore everything and return with `ret $RED_ZONE`, which pops the interrupted
 * rip and steps back over the red zone: rsp is exactly as it was.
 *
 * The runtime's entry point is read from gmp_preempt_target (written once by the runtime
 * before the SIGURG handler is installed), so no Rust symbol is named here or exported.
 *
 * CFI: the frame's CFA is the interrupted rsp (entry rsp + 8 + RED_ZONE), the return address
 * is the interrupted rip (exact, not after a call: hence .cfi_signal_frame), and every pushed
 * register is described, so debuggers and unwinders step through into the interrupted frame.
 *
 * Registers:
 *   rbp = base of the saved-register block (callee-saved, so it survives the call)
 *   rsp = 64-byte aligned XSAVE area below it (gmp_xsave_size bytes, from CPUID leaf 0xD)
 *   eax:edx = -1 as the XSAVE/XRSTOR component mask (all enabled components)
 */
#include "offsets.h"

        .bss
        .globl  gmp_xsave_size
        .hidden gmp_xsave_size
        .p2align 3
gmp_xsave_size:
        .quad   0
        .globl  gmp_preempt_target
        .hidden gmp_preempt_target
gmp_preempt_target:
        .quad   0

/* Push \reg, whose save slot is \off bytes below the CFA. */
.macro SAVE reg, off
        pushq   %\reg
        .cfi_adjust_cfa_offset 8
        .cfi_offset \reg, -\off
.endm
.macro RESTORE reg
        popq    %\reg
        .cfi_adjust_cfa_offset -8
        .cfi_restore \reg
.endm

        .text
        .globl  gmp_async_preempt
        .hidden gmp_async_preempt
        .type   gmp_async_preempt, @function
        .p2align 4
gmp_async_preempt:
        .cfi_startproc
        .cfi_signal_frame
        .cfi_def_cfa rsp, RED_ZONE + 8        /* CFA = the interrupted rsp */
        .cfi_offset rip, -(RED_ZONE + 8)      /* (%rsp) = the interrupted rip */
        pushfq
        .cfi_adjust_cfa_offset 8
        SAVE    rax, RED_ZONE + 24
        SAVE    rbx, RED_ZONE + 32
        SAVE    rcx, RED_ZONE + 40
        SAVE    rdx, RED_ZONE + 48
        SAVE    rsi, RED_ZONE + 56
        SAVE    rdi, RED_ZONE + 64
        SAVE    rbp, RED_ZONE + 72
        SAVE    r8,  RED_ZONE + 80
        SAVE    r9,  RED_ZONE + 88
        SAVE    r10, RED_ZONE + 96
        SAVE    r11, RED_ZONE + 104
        SAVE    r12, RED_ZONE + 112
        SAVE    r13, RED_ZONE + 120
        SAVE    r14, RED_ZONE + 128
        SAVE    r15, RED_ZONE + 136
        movq    %rsp, %rbp                    /* rbp = saved-register block */
        .cfi_def_cfa_register rbp
        subq    gmp_xsave_size(%rip), %rsp
        andq    $-64, %rsp                    /* XSAVE needs 64-byte alignment */
        /* XRSTOR faults unless the XSAVE header's reserved bytes are zero, and XSAVE does not
           write them: clear the header first. */
        xorl    %eax, %eax
        .irp    off, 0, 8, 16, 24, 32, 40, 48, 56
        movq    %rax, XSAVE_HDR + \off(%rsp)
        .endr
        movl    $-1, %eax
        movl    $-1, %edx
        xsave64 (%rsp)
        cld                                   /* the ABI wants DF = 0 at a call */
        callq   *gmp_preempt_target(%rip)     /* parks; resumes on this same thread */
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rsp)
        movq    %rbp, %rsp
        .cfi_def_cfa_register rsp
        RESTORE r15
        RESTORE r14
        RESTORE r13
        RESTORE r12
        RESTORE r11
        RESTORE r10
        RESTORE r9
        RESTORE r8
        RESTORE rbp
        RESTORE rdi
        RESTORE rsi
        RESTORE rdx
        RESTORE rcx
        RESTORE rbx
        RESTORE rax
        popfq
        .cfi_adjust_cfa_offset -8
        ret     $RED_ZONE                     /* back to rip, and over the red zone */
        .cfi_endproc
        .size   gmp_async_preempt, .-gmp_async_preempt

        .section .note.GNU-stack,"",@progbits
