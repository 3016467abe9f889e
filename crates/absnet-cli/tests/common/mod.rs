#![allow(dead_code)] // Each test binary uses a part of these helpers.
//! What the binary's tests share: `absnet` run from the repository root, and its output.

use std::path::Path;
use std::process::{Command, Output};

pub use absnet_testkit::repo;
use serde_json::Value;

/// The built `absnet`, to run from the repository root.
pub fn absnet() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_absnet"));
    command.current_dir(repo());
    command
}

/// What a run printed, standard output then standard error.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `absnet COMMAND INPUTS… --out OUT EXTRA…`: whether it succeeded, what it printed, and the
/// records it wrote to `OUT/RECORDS` (JSON lines).
pub fn image_command(
    command: &str,
    records: &str,
    inputs: &[&Path],
    out: &Path,
    extra: &[&str],
) -> (bool, String, Vec<Value>) {
    let output = absnet()
        .arg(command)
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let records = std::fs::read_to_string(out.join(records))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (output.status.success(), text(&output), records)
}
