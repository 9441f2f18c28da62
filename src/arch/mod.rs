//! Architecture layer (corosensei's arch/ shape): the types the asm works on — the `Gobuf`
//! (a switched-out context) and the `GRegs` block (the g register) that G and M embed — the
//! asm entry points, and g-register access. One `cfg` ladder picks the backend; each backend
//! provides the same items:
//! - `Gobuf`, `GRegs`, `Gobuf::fresh` (a context that starts a goroutine);
//! - `gmp_gogo`, `gmp_mcall` (asm/switch.S), `gmp_gostart` (asm/gostart.S);
//! - `getg`, `getm`, `g_base`, `set_g_base`, `thread_pointer`.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use x86_64::*;

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("libgmp supports x86-64 Linux only");

pub(crate) mod offsets;
