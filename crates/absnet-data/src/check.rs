//! `absnet data check`: what a dataset holds and what is wrong with it.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::Sample;

/// One problem found, with the image it concerns.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    pub image: String,
    pub problem: String,
}

/// The labels of an image-rating dataset (LIVE-C), over every labelled image.
#[derive(Debug, Serialize)]
pub struct Ratings {
    /// Images labelled, whether the folder holds them or not.
    pub labelled: usize,
    /// Labelled images the folder holds (read and checked above).
    pub present: usize,
    /// Lowest and highest mean opinion score.
    pub mos: [f64; 2],
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub images: usize,
    /// For an image-rating dataset: its labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratings: Option<Ratings>,
    pub observers: usize,
    pub observers_without_fixations: usize,
    pub fixations: usize,
    /// Fixations outside their image (or not finite): reported, never used.
    pub fixations_outside: usize,
    /// Fixations per image: fewest, median, most.
    pub fixations_per_image: [usize; 3],
    /// `"WIDTHxHEIGHT"` → number of images.
    pub sizes: BTreeMap<String, usize>,
    /// What makes images unusable or labels wrong: missing or unreadable files, ids twice,
    /// sizes that contradict the labels.
    pub problems: Vec<Problem>,
    /// What is left out but does not stop anything: fixations outside their image.
    pub warnings: Vec<Problem>,
}

/// Summarises `samples`, reading each image file (without decoding its pixels) to learn its
/// size and find missing, unreadable or truncated files and sizes that contradict the labels.
pub fn check(samples: &[Sample]) -> Summary {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut sizes = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut per_image = Vec::with_capacity(samples.len());
    let mut observers_without_fixations = 0;
    let mut outside_total = 0;
    for sample in samples {
        let mut problem = |text: String| {
            problems.push(Problem {
                image: sample.id.clone(),
                problem: text,
            })
        };
        if !seen.insert(&sample.id) {
            problem("id appears more than once".into());
        }
        let readable = match std::fs::read(&sample.image) {
            Err(e) => Err(format!("{}: {e}", sample.image.display())),
            Ok(bytes) => {
                crate::pipeline::check_complete(&bytes, &sample.image).map_err(|e| e.to_string())
            }
        };
        if let Err(e) = &readable {
            problem(e.clone());
        }
        match sample.image_size() {
            Ok([w, h]) => {
                *sizes.entry(format!("{w}x{h}")).or_insert(0) += 1;
                let (w, h) = (f64::from(w), f64::from(h));
                let outside = sample
                    .fixations()
                    .filter(|f| !(f.x >= 0.0 && f.y >= 0.0 && f.x < w && f.y < h))
                    .count();
                outside_total += outside;
                if outside > 0 {
                    warnings.push(Problem {
                        image: sample.id.clone(),
                        problem: format!(
                            "{outside} fixations outside the image or not finite (not used)"
                        ),
                    });
                }
            }
            Err(e) if readable.is_ok() => problem(e.to_string()),
            Err(_) => {}
        }
        observers_without_fixations += sample
            .observers
            .iter()
            .filter(|o| o.fixations.is_empty())
            .count();
        per_image.push(sample.fixations().count());
    }
    let fixations = per_image.iter().sum();
    per_image.sort_unstable();
    let fixations_per_image = match per_image.len() {
        0 => [0; 3],
        n => [per_image[0], per_image[n / 2], per_image[n - 1]],
    };
    Summary {
        images: samples.len(),
        ratings: None,
        observers: samples.iter().map(|s| s.observers.len()).sum(),
        observers_without_fixations,
        fixations,
        fixations_outside: outside_total,
        fixations_per_image,
        sizes,
        problems,
        warnings,
    }
}

/// [`check`] of the dataset `spec` names, with its labels' summary where it has ratings.
pub fn check_dataset(spec: &crate::DatasetSpec) -> Result<Summary, crate::DataError> {
    let samples = spec.load()?;
    let mut summary = check(&samples);
    if spec.format == crate::spec::Format::Livec {
        let labels = crate::livec::read_labels(spec.path())?;
        summary.ratings = Some(Ratings {
            labelled: labels.labelled(),
            present: samples.len(),
            mos: labels.mos_range(),
        });
    }
    Ok(summary)
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "images      {}", self.images)?;
        if let Some(r) = &self.ratings {
            writeln!(
                f,
                "labelled    {} ({} of them in this folder); MOS {:.2}–{:.2}",
                r.labelled, r.present, r.mos[0], r.mos[1]
            )?;
        }
        // A rating dataset has no observers to speak of.
        if self.ratings.is_none() || self.observers > 0 {
            writeln!(
                f,
                "observers   {} ({} without fixations)",
                self.observers, self.observers_without_fixations
            )?;
            let [lo, median, hi] = self.fixations_per_image;
            writeln!(
                f,
                "fixations   {} (per image: min {lo}, median {median}, max {hi}; {} outside their image, not used)",
                self.fixations, self.fixations_outside
            )?;
        }
        let mut sizes: Vec<_> = self.sizes.iter().collect();
        sizes.sort_by(|a, b| b.1.cmp(a.1));
        let shown: Vec<String> = sizes
            .iter()
            .take(6)
            .map(|(s, n)| format!("{s} ×{n}"))
            .collect();
        let more = if sizes.len() > 6 {
            format!(", … {} more sizes", sizes.len() - 6)
        } else {
            String::new()
        };
        writeln!(f, "sizes       {}{more}", shown.join(", "))?;
        for (title, list) in [("warnings", &self.warnings), ("problems", &self.problems)] {
            writeln!(f, "{title:<11} {}", list.len())?;
            for p in list.iter().take(20) {
                writeln!(f, "  {}: {}", p.image, p.problem)?;
            }
            if list.len() > 20 {
                writeln!(f, "  … and {} more", list.len() - 20)?;
            }
        }
        Ok(())
    }
}
