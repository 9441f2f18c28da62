/*
 * Struct offsets shared by the assembly in asm/ and the Rust structs in src/.
 * Defined here once: build.rs turns each `#define NAME value` into a Rust `const`, and
 * src/arch/offsets.rs checks every one against `offset_of!`, so a layout change that forgets
 * this file fails to compile instead of corrupting registers.
 */
#ifndef GMP_OFFSETS_H
#define GMP_OFFSETS_H

/* struct Gobuf (src/g.rs): a switched-out context. */
#define GOBUF_SP     0
#define GOBUF_PC     8
#define GOBUF_RBP    16
#define GOBUF_RBX    24
#define GOBUF_R12    32
#define GOBUF_R13    40
#define GOBUF_R14    48
#define GOBUF_R15    56
#define GOBUF_MXCSR  64   /* u32: SSE control/status */
#define GOBUF_FPUCW  68   /* u16: x87 control word */

/* struct G (src/g.rs): the saved context comes first so a *G is a *Gobuf. */
#define G_SCHED      0

/* struct M (src/m.rs): its first words are the thread's g-register block, %gs:0 onward. */
#define M_TLS_G      0    /* current g: getg() is `mov %gs:0` */
#define M_TLS_FSBASE 8    /* owning thread's FS base, to reject inherited GS bases */
#define M_TLS_SELF   16   /* the M itself */
#define M_G0         24   /* the scheduler goroutine of this M */

#endif
