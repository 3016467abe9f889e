//! LIVE In the Wild Image Quality Challenge (LIVE-C; Ghadiyaram & Bovik, IEEE TIP 2016): 1,169
//! mobile-camera photos, each rated for perceived picture quality by about 175 people — a mean
//! opinion score (MOS, 0–100) and its standard deviation. Two layouts are read:
//!
//! - the release as its authors ship it: `Data/AllImages_release.mat` (cell 1169×1 of file
//!   names), `Data/AllMOS_release.mat` and `Data/AllStdDev_release.mat` (double 1×1169, same
//!   order), images in `Images/` and the 7 rater-training images `t1.bmp`…`t7.bmp` in
//!   `Images/trainingImages/`; every labelled image must be there;
//! - a folder of part of the images: `labels.csv` (`name,mos,sd,format,in_folder` for all
//!   1,169) and `images/`, holding the rows with `in_folder` = 1.
//!
//! Labelled images a folder does not hold by design are counted ([`Labels::labelled`]), not
//! read; a labelled image it should hold is a problem of `data check`, named by file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::mat::{load, numbers, variable};
use crate::{DataError, Opinion, Sample};

/// One row of the labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub name: String,
    pub mos: f64,
    pub sd: f64,
    /// Where the image is, when the folder holds it.
    pub image: Option<PathBuf>,
}

/// Every label of a LIVE-C folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    pub rows: Vec<Label>,
}

impl Labels {
    /// Rows labelled, whether the folder holds their image or not.
    pub fn labelled(&self) -> usize {
        self.rows.len()
    }

    /// Lowest and highest MOS over every label.
    pub fn mos_range(&self) -> [f64; 2] {
        self.rows
            .iter()
            .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], r| {
                [lo.min(r.mos), hi.max(r.mos)]
            })
    }
}

/// The labels of the LIVE-C folder `root`, in either layout.
pub fn read_labels(root: &Path) -> Result<Labels, DataError> {
    let csv = root.join("labels.csv");
    let rows = if csv.exists() {
        read_csv(root, &csv)?
    } else {
        read_release(root)?
    };
    let mut seen = HashSet::new();
    for row in &rows {
        if !seen.insert(row.name.as_str()) {
            let file = if csv.exists() {
                csv.clone()
            } else {
                root.join("Data/AllImages_release.mat")
            };
            return Err(DataError::invalid(
                &file,
                format!("image `{}` is labelled twice", row.name),
            ));
        }
    }
    Ok(Labels { rows })
}

/// The samples of the images the folder holds, each with its opinion scores.
pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    Ok(read_labels(root)?
        .rows
        .into_iter()
        .filter_map(|row| {
            let image = row.image?;
            let id = Path::new(&row.name)
                .file_stem()
                .map_or(row.name.clone(), |s| s.to_string_lossy().into_owned());
            Some(Sample {
                opinion: Some(Opinion {
                    mos: row.mos,
                    sd: row.sd,
                }),
                ..Sample::new(id, image)
            })
        })
        .collect())
}

/// A MOS and SD as the study reports them: finite, MOS within 0–100, SD above 0.
fn checked(mos: f64, sd: f64, file: &Path, at: &str) -> Result<(f64, f64), DataError> {
    if !(mos.is_finite() && (0.0..=100.0).contains(&mos)) {
        return Err(DataError::invalid(
            file,
            format!("{at}: MOS {mos} is not a number within 0–100"),
        ));
    }
    if !(sd.is_finite() && sd > 0.0) {
        return Err(DataError::invalid(
            file,
            format!("{at}: standard deviation {sd} is not a positive number"),
        ));
    }
    Ok((mos, sd))
}

fn read_csv(root: &Path, path: &Path) -> Result<Vec<Label>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|cause| DataError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim()).unwrap_or_default();
    if header != "name,mos,sd,format,in_folder" {
        return Err(DataError::invalid(
            path,
            format!("line 1 is `{header}`; expected the header `name,mos,sd,format,in_folder`"),
        ));
    }
    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", index + 1);
        let fields: Vec<&str> = line.trim().split(',').collect();
        let [name, mos, sd, _format, in_folder] = fields[..] else {
            return Err(DataError::invalid(
                path,
                format!("{at}: {} fields; expected 5", fields.len()),
            ));
        };
        let number = |text: &str, what: &str| {
            text.parse::<f64>().map_err(|_| {
                DataError::invalid(path, format!("{at}: {what} `{text}` is not a number"))
            })
        };
        let (mos, sd) = checked(number(mos, "MOS")?, number(sd, "SD")?, path, &at)?;
        let image = match in_folder {
            "1" => Some(root.join("images").join(name)),
            "0" => None,
            other => {
                return Err(DataError::invalid(
                    path,
                    format!("{at}: in_folder `{other}`; expected 0 or 1"),
                ));
            }
        };
        rows.push(Label {
            name: name.to_string(),
            mos,
            sd,
            image,
        });
    }
    Ok(rows)
}

fn read_release(root: &Path) -> Result<Vec<Label>, DataError> {
    let data = root.join("Data");
    let names_path = data.join("AllImages_release.mat");
    let names_mat = load(&names_path)?;
    let cells = variable(&names_mat, "AllImages_release", &names_path)?;
    let count = cells.dim().iter().product::<usize>();
    let names = (0..count)
        .map(|i| {
            cells[i]
                .to_vec_char()
                .map(|c| c.into_iter().collect::<String>())
                .ok_or_else(|| {
                    DataError::invalid(
                        &names_path,
                        format!(
                            "AllImages_release{{{}}}: expected a file name (char array)",
                            i + 1
                        ),
                    )
                })
        })
        .collect::<Result<Vec<String>, _>>()?;
    let column = |file: &str, name: &str| -> Result<(PathBuf, Vec<f64>), DataError> {
        let path = data.join(file);
        let mat = load(&path)?;
        let values = numbers(variable(&mat, name, &path)?, &path, name)?;
        if values.len() != names.len() {
            return Err(DataError::invalid(
                &path,
                format!(
                    "`{name}` holds {} values for {} images in AllImages_release.mat",
                    values.len(),
                    names.len()
                ),
            ));
        }
        Ok((path, values))
    };
    let (mos_path, mos) = column("AllMOS_release.mat", "AllMOS_release")?;
    let (_, sd) = column("AllStdDev_release.mat", "AllStdDev_release")?;
    names
        .into_iter()
        .zip(mos.into_iter().zip(sd))
        .enumerate()
        .map(|(i, (name, (mos, sd)))| {
            let (mos, sd) = checked(mos, sd, &mos_path, &format!("image {} ({name})", i + 1))?;
            // The rater-training images t1–t7 lie in their own folder.
            let folder = if name.starts_with('t') {
                root.join("Images/trainingImages")
            } else {
                root.join("Images")
            };
            Ok(Label {
                image: Some(folder.join(&name)),
                name,
                mos,
                sd,
            })
        })
        .collect()
}
