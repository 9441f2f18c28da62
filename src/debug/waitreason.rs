//! Why a goroutine is parked (Go's `waitReason`, runtime2.go): set by every `gopark` caller,
//! shown by `gmp_dump`, scheddetail and the gdb extension. The names are api.md's list
//! (Go's spelling where Go has the same wait), and `NAMES` is the one table all three read:
//! the gdb extension finds it through the layout record, so names are never spelled twice.

/// A G's wait reason, stored as its `u8` in `G.waitreason` (meaningful while it is Waiting).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
#[cfg_attr(loom, allow(dead_code))] // the parking code is not in loom's models
pub(crate) enum WaitReason {
    /// Never parked (a fresh G's value; no park passes it).
    #[allow(dead_code)]
    Zero = 0,
    Sleep,
    IoWait,
    ChanReceive,
    ChanSend,
    Select,
    MutexLock,
    RWMutexLock,
    RWMutexRLock,
    CondWait,
    WaitGroupWait,
    Semacquire,
    Park,
}

/// Indexed by `WaitReason as u8`.
pub(crate) const NAMES: [&str; 13] = [
    "",
    "sleep",
    "IO wait",
    "chan receive",
    "chan send",
    "select",
    "sync.Mutex.Lock",
    "sync.RWMutex.Lock",
    "sync.RWMutex.RLock",
    "sync.Cond.Wait",
    "sync.WaitGroup.Wait",
    "semacquire",
    "park",
];

impl WaitReason {
    /// The name of a raw `G.waitreason` value (read racily by dumps: any byte is accepted).
    pub(crate) fn name_of(v: u8) -> &'static str {
        NAMES.get(v as usize).copied().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_variants() {
        assert_eq!(WaitReason::name_of(WaitReason::Park as u8), "park");
        assert_eq!(WaitReason::name_of(WaitReason::ChanReceive as u8), "chan receive");
        assert_eq!(NAMES.len(), WaitReason::Park as usize + 1);
        assert_eq!(WaitReason::name_of(200), "");
    }
}
