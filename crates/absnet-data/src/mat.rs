//! Access to MATLAB v5 files (through `matrw`) with errors that name the file and the field.

use std::path::Path;

use matrw::{MatFile, MatVariable};

use crate::DataError;

/// Loads a MAT-file. Version 7.3 files are HDF5 containers, which are refused with the
/// conversion to use.
pub(crate) fn load(path: &Path) -> Result<MatFile, DataError> {
    let mut header = [0u8; 128];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut header))
        .map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if read < 128 {
        return Err(DataError::invalid(path, "too short for a MAT-file (under 128 bytes)"));
    }
    if header.starts_with(b"MATLAB 7.3") || header.windows(4).any(|w| w == b"\x89HDF") {
        return Err(DataError::invalid(
            path,
            "MATLAB v7.3 (HDF5) files are not read; convert it in MATLAB with \
             `save(NEW, '-struct', 'S', '-v7')` or in Python with \
             `scipy.io.savemat(NEW, mat73.loadmat(PATH))`",
        ));
    }
    matrw::load_matfile(&path.to_string_lossy())
        .map_err(|e| DataError::invalid(path, format!("not a readable MAT-file: {e:?}")))
}

/// A top-level variable.
pub(crate) fn variable<'a>(mat: &'a MatFile, name: &str, path: &Path) -> Result<&'a MatVariable, DataError> {
    if !mat.iter().any(|(n, _)| n == name) {
        return Err(DataError::invalid(path, format!("no variable `{name}`")));
    }
    Ok(&mat[name])
}

/// A struct field; `what` says where it is for the error.
pub(crate) fn field<'a>(value: &'a MatVariable, name: &str, path: &Path, what: &str) -> Result<&'a MatVariable, DataError> {
    let has = value.fieldnames().is_some_and(|names| names.iter().any(|n| n == name));
    if !has {
        return Err(DataError::invalid(path, format!("{what}: no field `{name}`")));
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
