//! Synchronization for goroutines and threads alike (stub).
pub(crate) mod chan;
pub(crate) mod cond;
pub(crate) mod futex;
pub(crate) mod keys;
pub(crate) mod mutex;
pub(crate) mod once;
pub(crate) mod rwmutex;
pub(crate) mod select;
pub(crate) mod waitgroup;
