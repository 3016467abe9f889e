//! The record of one predicted photo, as `summary.jsonl` (one JSON object a line) and
//! `summary.csv` (its scalars and strongest peak) hold it. Writers and readers share this type.

use serde::{Deserialize, Serialize};

use crate::crop::FocalPoint;
use crate::render::Peak;
use crate::{Aesthetics, Prediction, Quality};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The input as given (`<stdin>` for standard input).
    pub image: String,
    pub width: u32,
    pub height: u32,
    /// The model file.
    pub model: String,
    /// Files written for this image, by kind (`saliency`, `overlay`, `npy`, `log_density`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saliency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_density: Option<String>,
    pub peaks: Vec<Peak>,
    /// `null` when the model has no trained aesthetics head.
    pub aesthetics: Option<Aesthetics>,
    /// Absent when the model has no trained quality head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// The model whose quality head scored `quality`, when it is not `model` (`--quality-model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_model: Option<String>,
    /// When asked for (`predict --focal-point`): [`crate::crop::focal_point`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal_point: Option<FocalPoint>,
    pub ms: f64,
}

impl Record {
    /// The record of `prediction` for the input `image` by `model`, with its `top_k` peaks; the
    /// caller fills in the files it wrote.
    pub fn new(image: &str, model: &str, prediction: &Prediction, top_k: usize) -> Self {
        Self {
            image: image.to_string(),
            width: prediction.width(),
            height: prediction.height(),
            model: model.to_string(),
            saliency: None,
            overlay: None,
            npy: None,
            log_density: None,
            peaks: prediction.peaks(top_k),
            aesthetics: prediction.aesthetics.clone(),
            quality: prediction.quality.clone(),
            quality_model: None,
            focal_point: None,
            ms: prediction.ms,
        }
    }

    /// The record of a photo scored for quality alone (`predict --quality-only`): no maps, no
    /// peaks.
    pub fn quality_only(
        image: &str,
        model: &str,
        [width, height]: [u32; 2],
        quality: Quality,
        ms: f64,
    ) -> Self {
        Self {
            image: image.to_string(),
            width,
            height,
            model: model.to_string(),
            saliency: None,
            overlay: None,
            npy: None,
            log_density: None,
            peaks: Vec::new(),
            aesthetics: None,
            quality: Some(quality),
            quality_model: None,
            focal_point: None,
            ms,
        }
    }

    /// The record as one JSON line, newline included.
    pub fn to_json_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a record always serialises");
        line.push('\n');
        line
    }

    pub const CSV_HEADER: [&'static str; 13] = [
        "image",
        "width",
        "height",
        "peak_x",
        "peak_y",
        "peak_value",
        "aesthetic_mean",
        "aesthetic_std",
        "quality_score",
        "saliency",
        "overlay",
        "ms",
        "error",
    ];

    /// The CSV row under [`Record::CSV_HEADER`]: the strongest peak only; empty cells for what
    /// is absent.
    pub fn csv_row(&self) -> [String; 13] {
        let peak = self.peaks.first();
        let optional = |v: Option<String>| v.unwrap_or_default();
        [
            self.image.clone(),
            self.width.to_string(),
            self.height.to_string(),
            optional(peak.map(|p| p.x.to_string())),
            optional(peak.map(|p| p.y.to_string())),
            optional(peak.map(|p| p.value.to_string())),
            optional(self.aesthetics.as_ref().map(|a| a.mean.to_string())),
            optional(self.aesthetics.as_ref().map(|a| a.std.to_string())),
            optional(self.quality.as_ref().map(|q| q.score.to_string())),
            optional(self.saliency.clone()),
            optional(self.overlay.clone()),
            self.ms.to_string(),
            String::new(),
        ]
    }
}

/// The record of an input that could not be predicted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub image: String,
    pub model: String,
    pub error: String,
}

impl Failure {
    pub fn to_json_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a record always serialises");
        line.push('\n');
        line
    }

    /// Its row in a table of `columns` columns: the image first, the error last.
    pub fn csv_row(&self, columns: usize) -> Vec<String> {
        let mut row = vec![String::new(); columns.max(2)];
        row[0] = self.image.clone();
        row[columns.max(2) - 1] = self.error.clone();
        row
    }
}

/// A line of `summary.jsonl`: a prediction or a failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SummaryLine {
    Predicted(Box<Record>),
    Failed(Failure),
}

/// One crop of a [`CropRecord`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CropEntry {
    pub aspect: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The share of the image's calibrated saliency inside the window.
    pub score: f64,
    /// The cropped image, when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The record of one cropped photo, as `crops.jsonl` holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CropRecord {
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub model: String,
    pub crops: Vec<CropEntry>,
    pub ms: f64,
}

impl CropRecord {
    pub fn to_json_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a record always serialises");
        line.push('\n');
        line
    }

    pub const CSV_HEADER: [&'static str; 11] = [
        "image",
        "width",
        "height",
        "aspect",
        "x",
        "y",
        "crop_width",
        "crop_height",
        "score",
        "file",
        "error",
    ];

    /// One row per crop under [`CropRecord::CSV_HEADER`].
    pub fn csv_rows(&self) -> Vec<[String; 11]> {
        self.crops
            .iter()
            .map(|c| {
                [
                    self.image.clone(),
                    self.width.to_string(),
                    self.height.to_string(),
                    c.aspect.clone(),
                    c.x.to_string(),
                    c.y.to_string(),
                    c.width.to_string(),
                    c.height.to_string(),
                    c.score.to_string(),
                    c.file.clone().unwrap_or_default(),
                    String::new(),
                ]
            })
            .collect()
    }
}

/// A line of `crops.jsonl`: the crops of a photo or a failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CropLine {
    Cropped(CropRecord),
    Failed(Failure),
}
