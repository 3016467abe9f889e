//! Access to MATLAB v5 files (through `matrw`) with errors that name the file and the field.

use std::path::Path;

use matrw::{MatFile, MatVariable};

use crate::DataError;

/// Loads a MAT-file. Version 7.3 files are HDF5 containers, which are refused with the
/// conversion to use.
pub(crate) fn load(path: &Path) -> Result<MatFile, DataError> {
    let mut bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    if bytes.len() < 128 {
        return Err(DataError::invalid(
            path,
            "too short for a MAT-file (under 128 bytes)",
        ));
    }
    let header = &bytes[..128];
    if header.starts_with(b"MATLAB 7.3") || bytes.get(512..516) == Some(b"\x89HDF") {
        return Err(DataError::invalid(
            path,
            "MATLAB v7.3 (HDF5) files are not read; save it again as v7 (MATLAB: \
             `save(NEW, '-struct', 'S', '-v7')`; Python: `scipy.io.savemat(NEW, mat73.loadmat(PATH))`)",
        ));
    }
    if !header.starts_with(b"MATLAB 5.0 MAT-file") {
        return Err(DataError::invalid(
            path,
            "not a MAT-file (no `MATLAB 5.0 MAT-file` header)",
        ));
    }
    // The first 116 bytes are free descriptive text; matrw insists on MATLAB's own wording
    // ("MATLAB 5.0 MAT-file, Platform: …") that scipy and Octave do not write.
    const MATLAB_TEXT: &[u8] = b"MATLAB 5.0 MAT-file, Platform: any";
    bytes[..116].fill(b' ');
    bytes[..MATLAB_TEXT.len()].copy_from_slice(MATLAB_TEXT);
    check_elements(&bytes, path)?;
    // matrw unwraps some malformed inputs internally; what check_elements cannot rule out
    // still becomes an error here rather than a crash.
    let parsed = std::panic::catch_unwind(|| matrw::load_matfile_from_u8(&bytes))
        .map_err(|_| DataError::invalid(path, "malformed MAT-file (the parser gave up)"))?;
    parsed.map_err(|e| {
        DataError::invalid(
            path,
            format!("not a readable MAT-file: {}", first_line(&format!("{e:?}"))),
        )
    })
}

/// Walks the top-level data elements (8-byte tag: type, byte count) and checks that each lies
/// inside the file and that compressed ones inflate completely: a truncated or corrupt file is
/// reported here, by element, instead of inside the parser.
fn check_elements(bytes: &[u8], path: &Path) -> Result<(), DataError> {
    const COMPRESSED: u32 = 15;
    let mut offset = 128;
    let mut index = 0;
    while offset < bytes.len() {
        let tag = bytes.get(offset..offset + 8).ok_or_else(|| {
            DataError::invalid(
                path,
                format!("truncated: element {index} at byte {offset} has no complete tag"),
            )
        })?;
        let kind = u32::from_le_bytes(tag[..4].try_into().expect("4 bytes"));
        let size = u32::from_le_bytes(tag[4..].try_into().expect("4 bytes")) as usize;
        let end = offset + 8 + size;
        let body = bytes.get(offset + 8..end).ok_or_else(|| {
            DataError::invalid(
                path,
                format!("truncated: element {index} at byte {offset} declares {size} bytes, the file ends {} bytes in", bytes.len() - offset - 8),
            )
        })?;
        if kind == COMPRESSED {
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(body), &mut inflated)
                .map_err(|e| {
                    DataError::invalid(
                        path,
                        format!("element {index} at byte {offset}: corrupt compressed data ({e})"),
                    )
                })?;
        }
        // Uncompressed elements are padded to 8 bytes.
        offset = if kind == COMPRESSED {
            end
        } else {
            end.next_multiple_of(8)
        };
        index += 1;
    }
    Ok(())
}

/// matrw's errors carry a multi-line backtrace; keep the line that says what failed.
fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.contains("Error") || l.contains("error"))
        .unwrap_or(text.lines().next().unwrap_or(""))
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// A top-level variable.
pub(crate) fn variable<'a>(
    mat: &'a MatFile,
    name: &str,
    path: &Path,
) -> Result<&'a MatVariable, DataError> {
    if !mat.iter().any(|(n, _)| n == name) {
        return Err(DataError::invalid(path, format!("no variable `{name}`")));
    }
    Ok(&mat[name])
}

/// A struct field; `what` says where it is for the error.
pub(crate) fn field<'a>(
    value: &'a MatVariable,
    name: &str,
    path: &Path,
    what: &str,
) -> Result<&'a MatVariable, DataError> {
    let has = value
        .fieldnames()
        .is_some_and(|names| names.iter().any(|n| n == name));
    if !has {
        return Err(DataError::invalid(
            path,
            format!("{what}: no field `{name}`"),
        ));
    }
    Ok(&value[name])
}

/// A double array's values in MATLAB (column-major) order; empty arrays give none.
pub(crate) fn numbers(value: &MatVariable, path: &Path, what: &str) -> Result<Vec<f64>, DataError> {
    if value.dim().iter().product::<usize>() == 0 {
        return Ok(Vec::new());
    }
    value
        .to_vec_f64()
        .ok_or_else(|| DataError::invalid(path, format!("{what}: expected a double array")))
}

/// A 2-D map variable (double, single, uint8 or logical) as row-major booleans (non-zero),
/// with its width.
pub(crate) fn binary_map(path: &Path, name: &str) -> Result<(usize, Vec<bool>), DataError> {
    let mat = load(path)?;
    let value = variable(&mat, name, path)?;
    let [rows, cols] = match value.dim()[..] {
        [r, c] => [r, c],
        _ => {
            return Err(DataError::invalid(
                path,
                format!("`{name}` has shape {:?}; expected a 2-D map", value.dim()),
            ));
        }
    };
    let column_major: Vec<bool> = if let Some(v) = value.to_vec_f64() {
        v.into_iter().map(|x| x != 0.0).collect()
    } else if let Some(v) = value.to_vec_bool() {
        v
    } else if let Some(v) = value.to_vec_u8() {
        v.into_iter().map(|x| x != 0).collect()
    } else if let Some(v) = value.to_vec_f32() {
        v.into_iter().map(|x| x != 0.0).collect()
    } else {
        return Err(DataError::invalid(
            path,
            format!("`{name}`: expected a numeric or logical map"),
        ));
    };
    let row_major = (0..rows * cols)
        .map(|i| column_major[(i % cols) * rows + i / cols])
        .collect();
    Ok((cols, row_major))
}
