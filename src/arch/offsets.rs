//! The constants of asm/offsets.h (generated into Rust by build.rs), checked against the
//! structs they describe.
#![allow(dead_code)]

include!(concat!(env!("OUT_DIR"), "/offsets.rs"));

use super::{GRegs, Gobuf};
use crate::sched::g::G;
use crate::sched::m::M;
use core::mem::offset_of;

const _: () = {
    assert!(offset_of!(Gobuf, sp) == GOBUF_SP);
    assert!(offset_of!(Gobuf, pc) == GOBUF_PC);
    assert!(offset_of!(Gobuf, rbp) == GOBUF_RBP);
    assert!(offset_of!(Gobuf, rbx) == GOBUF_RBX);
    assert!(offset_of!(Gobuf, r12) == GOBUF_R12);
    assert!(offset_of!(Gobuf, r13) == GOBUF_R13);
    assert!(offset_of!(Gobuf, r14) == GOBUF_R14);
    assert!(offset_of!(Gobuf, r15) == GOBUF_R15);
    assert!(offset_of!(Gobuf, mxcsr) == GOBUF_MXCSR);
    assert!(offset_of!(Gobuf, fpucw) == GOBUF_FPUCW);
    assert!(offset_of!(G, sched) == G_SCHED);
    assert!(offset_of!(GRegs, g) == GREGS_G);
    assert!(offset_of!(GRegs, fsbase) == GREGS_FSBASE);
    assert!(offset_of!(GRegs, m) == GREGS_M);
    assert!(offset_of!(GRegs, g0) == GREGS_G0);
    assert!(offset_of!(M, gregs) == M_GREGS);
    assert!(XSAVE_MIN == XSAVE_HDR + XSAVE_HDR_SIZE);
};
