//! Architecture dispatch. Each backend provides the same items: the asm entry points
//! (`gogo`, `gosave`, `mcall`, `systemstack`, `gostart`), the g-register access (`getg`,
//! `set_g_base`, `g_base`, `thread_pointer`) and the default control-register values for a
//! new goroutine.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_64::*;

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("libgmp supports x86-64 Linux only");

pub(crate) mod offsets;
