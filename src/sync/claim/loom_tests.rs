//! Loom models of the claim protocol (claim.rs): to be written.
