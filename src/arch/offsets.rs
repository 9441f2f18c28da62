//! The offsets of asm/offsets.h (generated into Rust by build.rs), checked against the structs.
#![allow(dead_code)]

include!(concat!(env!("OUT_DIR"), "/offsets.rs"));

use crate::g::{Gobuf, G};
use crate::m::M;
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
    assert!(offset_of!(M, tls_g) == M_TLS_G);
    assert!(offset_of!(M, tls_fsbase) == M_TLS_FSBASE);
    assert!(offset_of!(M, tls_self) == M_TLS_SELF);
    assert!(offset_of!(M, g0) == M_G0);
};
