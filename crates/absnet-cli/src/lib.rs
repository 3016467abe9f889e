//! What the `absnet` and `absnet-bench` binaries share: how the process is set up.

pub mod process;
