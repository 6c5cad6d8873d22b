//! Being ported.
