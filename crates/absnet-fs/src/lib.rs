//! Files written whole or not at all: every file absnet writes for later use (models, cards,
//! checkpoints' `latest.json`, split files, maps and overlays) goes through
//! [`write_atomically`], so a kill, a full disk or a second process leaves the old file or the
//! new one, never a part.

use std::io::Write;
use std::path::Path;

use atomic_write_file::AtomicWriteFile;

/// Writes `bytes` to a temporary file beside `path` (an unnamed one where the file system
/// allows, so a kill leaves nothing behind), syncs it to disk, and renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicWriteFile::open(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> absnet_testkit::TempFolder {
        absnet_testkit::temp_folder(&format!("fs-{name}"))
    }

    #[test]
    fn replaces_the_file_whole_or_not_at_all() {
        let dir = folder("whole");
        let path = dir.join("a.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // A write that fails midway (here the process's file-size limit, as a full disk would)
        // leaves the previous file as it was and nothing beside it.
        let limit = libc::rlimit {
            rlim_cur: 4096,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: process-wide settings of this test binary, which runs no other test that writes
        // files; SIGXFSZ ignored so the oversized write fails with EFBIG instead of killing it.
        let result = unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            let result = write_atomically(&path, &vec![7u8; 100_000]);
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &unlimited);
            result
        };
        assert!(result.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let err = write_atomically(&dir.join("missing/a.json"), b"x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
