//! Raw Linux system calls the runtime needs, as thin safe-ish wrappers. Everything here is
//! async-signal-safe (no allocation, no locks): the signal handler may use any of it.

mod linux;
pub(crate) use linux::*;
