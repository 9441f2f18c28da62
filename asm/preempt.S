/*
 * The asynchronous preemption trampoline (Go's asyncPreempt, made safe for C code).
 *
 * The SIGURG handler (src/preempt.rs) found the goroutine at a safe point and rewrote the
 * interrupted context so that, when the handler returns, this thread "calls" us:
 *
 *     rsp_new = rsp - 128 - 8      step over the System V red zone (C code keeps live data in
 *     [rsp_new] = interrupted rip  the 128 bytes below rsp; Go's plain pushCall clobbers it)
 *     rip = gmp_async_preempt
 *
 * So on entry every register holds the interrupted code's value, and (%rsp) is where to go
 * back to. We save the flags, every general register and the full vector state (XSAVE of every
 * component enabled in XCR0: AVX/AVX-512 upper halves, MXCSR, x87 state — FXSAVE alone loses
 * the upper halves), call the runtime (which parks this goroutine and later resumes it on this
 * same thread), restore everything and return with `ret $128`, which pops the interrupted rip
 * and steps back over the red zone: rsp is exactly as it was.
 *
 * Registers:
 *   rbp = base of the saved-register block (callee-saved, so it survives the call)
 *   rsp = 64-byte aligned XSAVE area below it (size gmp_xsave_size, from CPUID leaf 0xD)
 *   eax:edx = -1 as the XSAVE/XRSTOR component mask (all enabled components)
 */
        .bss
        .globl  gmp_xsave_size
        .hidden gmp_xsave_size
        .p2align 3
gmp_xsave_size:
        .quad   0

        .text
        .globl  gmp_async_preempt
        .hidden gmp_async_preempt
        .type   gmp_async_preempt, @function
        .p2align 4
gmp_async_preempt:
        .cfi_startproc
        .cfi_def_cfa rsp, 8                  /* (%rsp) = interrupted rip */
        pushfq
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        .cfi_adjust_cfa_offset 128
        movq    %rsp, %rbp                    /* rbp = saved-register block */
        .cfi_def_cfa_register rbp
        subq    gmp_xsave_size(%rip), %rsp
        andq    $-64, %rsp                    /* XSAVE needs 64-byte alignment */
        /* XRSTOR faults unless the XSAVE header's reserved bytes (512+8..512+63) are zero, and
           XSAVE does not write them: clear the header first. */
        xorl    %eax, %eax
        movq    %rax, 512(%rsp)
        movq    %rax, 520(%rsp)
        movq    %rax, 528(%rsp)
        movq    %rax, 536(%rsp)
        movq    %rax, 544(%rsp)
        movq    %rax, 552(%rsp)
        movq    %rax, 560(%rsp)
        movq    %rax, 568(%rsp)
        movl    $-1, %eax
        movl    $-1, %edx
        xsave64 (%rsp)
        cld                                   /* the ABI wants DF = 0 at a call */
        callq   gmp_async_preempt2            /* src/preempt.rs: parks, resumes on this thread */
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rsp)
        movq    %rbp, %rsp
        .cfi_def_cfa_register rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        popfq
        .cfi_adjust_cfa_offset -128
        ret     $128                          /* back to rip, and over the red zone */
        .cfi_endproc
        .size   gmp_async_preempt, .-gmp_async_preempt

        .section .note.GNU-stack,"",@progbits
