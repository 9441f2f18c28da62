//! std/loom facade: the lock-free run queue takes its atomics from here, so `RUSTFLAGS="--cfg
//! loom" cargo test --release --lib loom_` model-checks the very code the runtime runs.
#![allow(unused_imports)]

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicU32};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32};
