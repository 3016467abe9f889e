//! The deployment files in `deploy/`, linted: the systemd unit by `systemd-analyze verify` (where
//! the machine has it), the container file by its rules — built in one stage and run in another,
//! as a non-root user, with a health check on `/healthz`, serving on all interfaces. CI also builds
//! and runs the container where a container engine answers (`deploy/check.sh`).

use std::path::PathBuf;
use std::process::Command;

fn deploy(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name)
}

#[test]
fn the_container_file_builds_apart_runs_unprivileged_and_checks_its_health() {
    let text = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..instructions.len())
        .filter(|&i| instructions[i].starts_with("FROM "))
        .collect();
    assert!(
        stages.len() >= 2,
        "a build stage and a run stage: {stages:?}"
    );
    let last = &instructions[*stages.last().unwrap()..];
    let user = last
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the run stage names its user");
    assert!(
        !["root", "0", "0:0"].contains(&user.trim()),
        "runs as root: {user}"
    );
    assert!(last.iter().any(|l| l.starts_with("COPY --from=")));
    assert!(
        last.iter()
            .any(|l| l.starts_with("HEALTHCHECK") && text.contains("/healthz")),
        "a health check on /healthz"
    );
    let entry = last
        .iter()
        .find(|l| l.starts_with("ENTRYPOINT"))
        .expect("an entry point");
    assert!(
        entry.contains("serve") && entry.contains("0.0.0.0:8080"),
        "{entry}"
    );
    let ignored = std::fs::read_to_string(deploy("../.dockerignore")).unwrap();
    assert!(
        ignored.lines().any(|l| l == "target"),
        "the build context leaves target/ out"
    );
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(deploy("absnet@.service")).unwrap();
    for key in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "Restart=on-failure",
    ] {
        assert!(unit.contains(key), "{key}");
    }
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped: systemd-analyze is not installed, so the unit is not verified");
        return;
    };
    assert!(version.status.success());
    // Verified as installed, with the binary this build made.
    let dir = absnet_testkit::temp_folder("unit");
    let binary = env!("CARGO_BIN_EXE_absnet");
    std::fs::write(
        dir.join("absnet@.service"),
        unit.replace("/usr/local/bin/absnet", binary),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("absnet@8080.service"))
        .output()
        .unwrap();
    let problems = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && problems.trim().is_empty(),
        "{problems}"
    );
}
