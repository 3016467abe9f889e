//! An output folder of the image commands: one record per input appended to `NAME.jsonl` and a
//! row to `NAME.csv`, each under an exclusive lock of the folder and as one write of the whole
//! line, so concurrent runs never interleave or repeat a header; files written atomically
//! (`absnet_fs`: a kill leaves the old file or the new one, never a part); and `--resume`, which repairs a line
//! torn by a kill and treats an input as done only when its record is complete.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

/// What to do with a folder that already holds records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse: the user did not say.
    Refuse,
    /// Keep the records and skip the inputs they cover.
    Resume,
    /// Start the records afresh.
    Overwrite,
}

impl Existing {
    pub fn from_flags(resume: bool, overwrite: bool) -> Self {
        match (resume, overwrite) {
            (true, _) => Existing::Resume,
            (false, true) => Existing::Overwrite,
            (false, false) => Existing::Refuse,
        }
    }
}

pub struct OutputFolder {
    jsonl: PathBuf,
    csv: PathBuf,
    csv_header: String,
    lock: PathBuf,
}

/// A record as `--resume` reads it back: the input it names and whether it failed.
pub trait Done: DeserializeOwned {
    /// The input the record is of, when it completed without error.
    fn done(&self) -> Option<&str>;
}

impl OutputFolder {
    /// Opens (creating) `dir` for records in `NAME.jsonl` and `NAME.csv` under `csv_header`;
    /// returns it with the inputs already done when resuming.
    pub fn open<R: Done>(
        dir: &Path,
        name: &str,
        csv_header: &[&str],
        existing: Existing,
    ) -> Result<(Self, HashSet<String>)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
        let folder = Self {
            jsonl: dir.join(format!("{name}.jsonl")),
            csv: dir.join(format!("{name}.csv")),
            csv_header: csv_line(csv_header.iter().map(|s| s.to_string())),
            lock: dir.join(".absnet.lock"),
        };
        let _lock = folder.lock()?;
        remove_stale_temporaries(dir);
        let has_records = std::fs::metadata(&folder.jsonl).is_ok_and(|m| m.len() > 0);
        let done = match existing {
            Existing::Refuse if has_records => bail!(
                "{} already holds records of an earlier run; pass --resume to continue it or --overwrite to start afresh",
                folder.jsonl.display()
            ),
            Existing::Refuse => HashSet::new(),
            Existing::Overwrite => {
                for path in [&folder.jsonl, &folder.csv] {
                    File::create(path)
                        .with_context(|| format!("{}: cannot truncate", path.display()))?;
                }
                HashSet::new()
            }
            Existing::Resume => {
                drop_torn_line(&folder.csv)?;
                read_done::<R>(&folder.jsonl)?
            }
        };
        Ok((folder, done))
    }

    pub fn jsonl(&self) -> &Path {
        &self.jsonl
    }

    pub fn csv(&self) -> &Path {
        &self.csv
    }

    fn lock(&self) -> Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .with_context(|| format!("{}: cannot open the lock file", self.lock.display()))?;
        file.lock()
            .with_context(|| format!("{}: cannot lock", self.lock.display()))?;
        Ok(file)
    }

    /// Appends one JSON line and its CSV row (the header first when the table is new), each as
    /// one write, under the folder's lock.
    pub fn append(&self, json_line: &str, csv_row: impl IntoIterator<Item = String>) -> Result<()> {
        self.append_rows(json_line, [csv_row])
    }

    /// [`OutputFolder::append`] with several CSV rows for one record (one write).
    pub fn append_rows<R: IntoIterator<Item = String>>(
        &self,
        json_line: &str,
        csv_rows: impl IntoIterator<Item = R>,
    ) -> Result<()> {
        let _lock = self.lock()?;
        append_whole(&self.jsonl, json_line.as_bytes())?;
        let mut rows: String = csv_rows.into_iter().map(csv_line).collect();
        if std::fs::metadata(&self.csv).map_or(true, |m| m.len() == 0) {
            rows.insert_str(0, &self.csv_header);
        }
        append_whole(&self.csv, rows.as_bytes())
    }

    /// Writes `path` atomically: `encode` fills a buffer that replaces `path` only once
    /// complete and synced.
    pub fn save(
        &self,
        path: &Path,
        encode: impl FnOnce(&mut std::io::Cursor<Vec<u8>>) -> Result<()>,
    ) -> Result<()> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        encode(&mut bytes).with_context(|| format!("{}: cannot encode", path.display()))?;
        absnet_fs::write_atomically(path, bytes.get_ref())
            .with_context(|| format!("{}: cannot write", path.display()))
    }
}

/// Removes `*.tmp-PID` files that a killed run of an earlier absnet left (this one writes
/// through unnamed temporary files), unless process PID still runs.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pid = name
            .rsplit_once(".tmp-")
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// One CSV line (quoted as RFC 4180 wants), newline included.
fn csv_line(cells: impl IntoIterator<Item = String>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(cells.into_iter().collect::<Vec<_>>())
        .expect("writing to memory");
    String::from_utf8(writer.into_inner().expect("writing to memory")).expect("UTF-8 cells")
}

/// Appends `bytes` with one `write` call to a file opened for appending: concurrent appenders
/// (O_APPEND) cannot split the line.
fn append_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}: cannot open for appending", path.display()))?;
    let written = file
        .write(bytes)
        .with_context(|| format!("{}: cannot append", path.display()))?;
    if written != bytes.len() {
        bail!(
            "{}: only {written} of {} bytes appended (disk full?)",
            path.display(),
            bytes.len()
        );
    }
    Ok(())
}

/// Cuts a last line without its newline (a write a kill interrupted) off `path`.
fn drop_torn_line(path: &Path) -> Result<bool> {
    let Ok(mut file) = OpenOptions::new().read(true).write(true).open(path) else {
        return Ok(false);
    };
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if text.is_empty() || text.ends_with(b"\n") {
        return Ok(false);
    }
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    file.set_len(keep as u64)
        .with_context(|| format!("{}: cannot repair the torn last line", path.display()))?;
    file.seek(SeekFrom::End(0))?;
    Ok(true)
}

/// The inputs whose records in `jsonl` are complete and without error; a torn last line is cut
/// off first (its input is done again).
fn read_done<R: Done>(jsonl: &Path) -> Result<HashSet<String>> {
    if drop_torn_line(jsonl)? {
        eprintln!(
            "note: {}: dropped a record cut short by an interrupted run; its image is predicted again",
            jsonl.display()
        );
    }
    let text = match std::fs::read_to_string(jsonl) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", jsonl.display())),
    };
    let mut done = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let record: R = serde_json::from_str(line).with_context(|| {
            format!(
                "{}: line {} is not a record; move the file away to start afresh",
                jsonl.display(),
                number + 1
            )
        })?;
        if let Some(input) = record.done() {
            done.insert(input.to_string());
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Line {
        image: String,
    }

    impl Done for Line {
        fn done(&self) -> Option<&str> {
            Some(&self.image)
        }
    }

    fn folder(name: &str) -> absnet_testkit::TempFolder {
        absnet_testkit::temp_folder(&format!("output-{name}"))
    }

    #[test]
    fn a_torn_record_is_dropped_and_its_input_is_not_done() {
        let dir = folder("torn");
        let (out, _) =
            OutputFolder::open::<Line>(&dir, "summary", &["image"], Existing::Refuse).unwrap();
        out.append("{\"image\":\"a.jpg\"}\n", ["a.jpg".to_string()])
            .unwrap();
        append_whole(out.jsonl(), b"{\"image\":\"b.j").unwrap();
        let err = OutputFolder::open::<Line>(&dir, "summary", &["image"], Existing::Refuse)
            .err()
            .unwrap();
        assert!(err.to_string().contains("--resume"), "{err}");
        let (out, done) =
            OutputFolder::open::<Line>(&dir, "summary", &["image"], Existing::Resume).unwrap();
        assert_eq!(done, HashSet::from(["a.jpg".to_string()]));
        out.append("{\"image\":\"b.jpg\"}\n", ["b.jpg".to_string()])
            .unwrap();
        let text = std::fs::read_to_string(out.jsonl()).unwrap();
        assert_eq!(text, "{\"image\":\"a.jpg\"}\n{\"image\":\"b.jpg\"}\n");
        assert_eq!(
            std::fs::read_to_string(out.csv()).unwrap(),
            "image\na.jpg\nb.jpg\n"
        );
        let (out, done) =
            OutputFolder::open::<Line>(&dir, "summary", &["image"], Existing::Overwrite).unwrap();
        assert!(done.is_empty() && std::fs::read_to_string(out.jsonl()).unwrap().is_empty());
    }

    #[test]
    fn temporaries_of_killed_runs_are_removed() {
        let dir = folder("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let stale = dir.join("a.saliency.tmp-4000000000");
        let live = dir.join(format!("b.saliency.tmp-{}", std::process::id()));
        for path in [&stale, &live] {
            std::fs::write(path, b"part").unwrap();
        }
        OutputFolder::open::<Line>(&dir, "summary", &["image"], Existing::Refuse).unwrap();
        assert!(!stale.exists() && live.exists());
    }
}
