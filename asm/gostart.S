/*
 * Where a new goroutine begins and ends (Go's gostartcall + goexit).
 *
 * Gobuf::fresh (src/arch/x86_64.rs) lays out a G so that gmp_gogo enters gmp_gostart with:
 *   rsp = top of the goroutine stack (16-byte aligned), rbp = 0 (end of the frame chain),
 *   rbx = the goroutine's function, r12 = its argument, r13 = the runtime's goexit entry.
 * gmp_gostart pushes gmp_goexit as the return address (the stack is first written here, by the
 * goroutine itself, so a spawned-but-not-yet-run G costs no stack page) and jumps to fn(arg),
 * which starts with rsp = 8 mod 16 exactly as after a call. When fn returns it lands in
 * gmp_goexit (just past its leading nop) with r13 intact (callee-saved), which calls the
 * runtime to end the goroutine. Both functions mark rip undefined, so a backtrace of a
 * goroutine ends cleanly at its function.
 */
        .text

        .globl  gmp_gostart
        .hidden gmp_gostart
        .type   gmp_gostart, @function
        .p2align 4
gmp_gostart:
        .cfi_startproc
        .cfi_undefined rip                    /* outermost frame for unwinders */
        leaq    gmp_goexit+1(%rip), %rax      /* after goexit's leading nop (see below) */
        pushq   %rax
        movq    %r12, %rdi
        jmpq    *%rbx
        .cfi_endproc
        .size   gmp_gostart, .-gmp_gostart

        .type   gmp_goexit, @function
        .p2align 4
gmp_goexit:
        .cfi_startproc
        .cfi_undefined rip
        nop                                   /* unwinders look up return address - 1: it lands
                                                 here, inside this FDE, and stop (Go's goexit) */
        andq    $-16, %rsp
        callq   *%r13                         /* sched::fork::goexit: never returns */
        ud2
        .cfi_endproc
        .size   gmp_goexit, .-gmp_goexit

        .section .note.GNU-stack,"",@progbits
