//! OSIE / EyeCrowd style: `data/stimuli/*.jpg` and `data/eye/fixations.mat`, a MATLAB v5 struct
//! array `fixations(i)` with `img` (file name) and `subjects(j)` holding `fix_x`, `fix_y`
//! (1-based pixels) and `fix_duration` (ms). Xu et al., "Predicting human gaze beyond pixels",
//! JoV 2014.

use std::path::Path;

use crate::mat::{field, numbers};
use crate::{DataError, GazePoint, Observer, Sample};

/// σ of the authors' density maps, in pixels of OSIE's 800×600 stimuli; other sets in this
/// layout (e.g. EyeCrowd at 1024×768) state their own with `osie:PATH?sigma=…`.
pub const AUTHORS_SIGMA: f64 = 24.0;

/// Reads every image's fixations. `root` is the dataset folder (holding `data/`).
pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let path = root.join("data/eye/fixations.mat");
    let stimuli = root.join("data/stimuli");
    let mat = crate::mat::load(&path)?;
    let fixations = crate::mat::variable(&mat, "fixations", &path)?;
    let count: usize = fixations.dim().iter().product();
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let entry = &fixations[i];
        let what = format!("fixations({})", i + 1);
        let name: String = field(entry, "img", &path, &what)?
            .to_vec_char()
            .ok_or_else(|| DataError::invalid(&path, format!("{what}.img: expected a char array")))?
            .into_iter()
            .collect();
        let subjects = field(entry, "subjects", &path, &what)?;
        let observers = (0..subjects.dim().iter().product())
            .map(|j| {
                let what = format!("{what}.subjects({})", j + 1);
                let subject = &subjects[j];
                let xs = numbers(field(subject, "fix_x", &path, &what)?, &path, &what)?;
                let ys = numbers(field(subject, "fix_y", &path, &what)?, &path, &what)?;
                let durations =
                    numbers(field(subject, "fix_duration", &path, &what)?, &path, &what)?;
                if xs.len() != ys.len() || durations.len() != xs.len() {
                    return Err(DataError::invalid(
                        &path,
                        format!(
                            "{what}: fix_x, fix_y and fix_duration have {}, {} and {} values",
                            xs.len(),
                            ys.len(),
                            durations.len()
                        ),
                    ));
                }
                let fixations = xs
                    .iter()
                    .zip(&ys)
                    .zip(&durations)
                    .map(|((&x, &y), &d)| GazePoint {
                        x: x - 1.0,
                        y: y - 1.0,
                        duration_ms: Some(d),
                    })
                    .collect();
                Ok(Observer { fixations })
            })
            .collect::<Result<Vec<_>, DataError>>()?;
        let id = Path::new(&name)
            .file_stem()
            .map_or_else(|| name.clone(), |s| s.to_string_lossy().into_owned());
        samples.push(Sample {
            id,
            image: stimuli.join(&name),
            observers,
            ..Sample::default()
        });
    }
    Ok(samples)
}
