/*
 * The one table of struct offsets and constants shared by the assembly in asm/ and the Rust
 * runtime in src/. build.rs turns each `#define NAME number` into a Rust `const` (module
 * arch::offsets), src/arch/offsets.rs checks every struct offset against `offset_of!`, and Rust
 * inline asm uses the same constants as `const` operands: a layout change that forgets this
 * file fails to compile instead of corrupting registers.
 */
#ifndef GMP_OFFSETS_H
#define GMP_OFFSETS_H

/* struct Gobuf (src/arch/x86_64.rs): a switched-out context. */
#define GOBUF_SP        0
#define GOBUF_PC        8
#define GOBUF_RBP       16
#define GOBUF_RBX       24
#define GOBUF_R12       32
#define GOBUF_R13       40
#define GOBUF_R14       48
#define GOBUF_R15       56
#define GOBUF_MXCSR     64   /* u32: SSE control/status */
#define GOBUF_FPUCW     68   /* u16: x87 control word */

/* struct G (src/sched/g.rs): the saved context comes first, so a *G is a *Gobuf. */
#define G_SCHED         0

/* struct GRegs (src/arch/x86_64.rs): the g-register block at %gs:0, first in every M. */
#define GREGS_G         0    /* current g: getg() is `mov %gs:GREGS_G` */
#define GREGS_FSBASE    8    /* owning thread's FS base, to reject inherited GS bases */
#define GREGS_M         16   /* the M itself: getm() */
#define GREGS_G0        24   /* the M's scheduler goroutine */
#define M_GREGS         0    /* struct M (src/sched/m.rs) starts with its GRegs */

/* The System V red zone: 128 bytes below %rsp that leaf code may use without moving %rsp. */
#define RED_ZONE        128
/* XSAVE area: the legacy region is 512 bytes, then the 64-byte XSAVE header, whose reserved
   bytes XRSTOR requires to be zero. Areas are at least legacy + header. */
#define XSAVE_HDR       512
#define XSAVE_HDR_SIZE  64
#define XSAVE_MIN       576
/* Bytes left free above g0's saved stack pointer (mstart's own frame lives there). */
#define G0_SLACK        256

#endif
