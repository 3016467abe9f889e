//! The features of a frozen encoder, computed once per image, flip and input size and kept on
//! disk, so that training the heads costs minutes instead of hours: a run whose shared encoder
//! never trains reads its batches' backbone taps from here instead of running the backbone, and
//! a run that trains only the encoder's last blocks (`frozen_through`) reads the taps up to them.
//!
//! Each entry is one file holding every tap at its own resolution in float16 (the deep taps are
//! small: the readout upsamples them after its first 1×1 layer), written atomically, so a run
//! killed while filling the cache keeps every finished entry and a resumed run computes only
//! the missing ones. Entries live in a folder named by a fingerprint of everything they depend
//! on besides the image — backbone, its weights' bytes, taps, input size, fit — and are named by
//! the image file's path, length and modification time and the flip.

use std::collections::HashMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use absnet_data::Sample;
use absnet_data::loader::{Example, Loader, LoaderConfig, Skipped};
use absnet_model::{AbsNet, Encoded, Head, Tap};
use burn::tensor::{Device, Tensor, TensorData};
use half::f16;

use crate::config::TrainConfig;
use crate::error::TrainError;

const MAGIC: &[u8; 8] = b"ABSFEAT1";

/// A frozen encoder's feature cache for one run's configuration.
pub struct FeatureCache {
    /// The fingerprinted folder holding the entries.
    dir: PathBuf,
    taps: Vec<Tap>,
    input_size: [usize; 2],
    /// Sample id → the image file's key.
    keys: HashMap<String, String>,
}

/// FNV-1a over `parts`, as 16 hex digits.
fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = fnv::FnvHasher::default();
    for part in parts {
        hasher.write(part);
        hasher.write(&[0xFF]);
    }
    format!("{:016x}", hasher.finish())
}

impl FeatureCache {
    /// The cache under `root` for `config`'s encoder, reading `heads`, over `samples` (every
    /// sample the run may load).
    pub fn open(
        root: &Path,
        config: &TrainConfig,
        heads: &[Head],
        samples: &[&Sample],
    ) -> Result<Self, TrainError> {
        let taps = config.frozen_taps(heads);
        let weights = match &config.backbone_weights {
            Some(path) => std::fs::read(path).map_err(|e| TrainError::io(path, e))?,
            None => Vec::new(),
        };
        let backbone = serde_json::to_string(&config.model.backbone).expect("serialisable");
        let description = format!(
            "{backbone} taps {taps:?} input {:?} fit {:?}",
            config.input,
            LoaderConfig::new(config.input).fit
        );
        let fingerprint = digest([description.as_bytes(), &weights]);
        let dir = root.join(fingerprint);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        let about = dir.join("about.txt");
        if !about.exists() {
            absnet_fs::write_atomically(&about, description.as_bytes())
                .map_err(|e| TrainError::io(&about, e))?;
        }
        let mut keys = HashMap::new();
        for sample in samples {
            let meta =
                std::fs::metadata(&sample.image).map_err(|e| TrainError::io(&sample.image, e))?;
            let path = std::fs::canonicalize(&sample.image).unwrap_or(sample.image.clone());
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let key = digest([
                path.as_os_str().as_encoded_bytes(),
                &meta.len().to_le_bytes(),
                &modified.to_le_bytes(),
            ]);
            keys.insert(sample.id.clone(), key);
        }
        let [w, h] = config.input;
        Ok(Self {
            dir,
            taps,
            input_size: [h as usize, w as usize],
            keys,
        })
    }

    /// The folder holding this configuration's entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, id: &str, flipped: bool) -> PathBuf {
        let key = self.keys.get(id).map_or("unknown", String::as_str);
        self.dir
            .join(format!("{key}{}.f16", if flipped { "-flip" } else { "" }))
    }

    /// Computes the entries of `(sample, flip)` pairs not cached yet with `model` (its backbone,
    /// on a plain device), `batch` images at a time; `progress(done, missing)` after each batch.
    /// Returns how many were computed.
    pub fn fill(
        &self,
        visits: &[(&Sample, bool)],
        loader: &LoaderConfig,
        model: &AbsNet,
        batch: usize,
        device: &Device,
        progress: &dyn Fn(usize, usize),
    ) -> Result<usize, TrainError> {
        let (samples, flips): (Vec<Sample>, Vec<bool>) = visits
            .iter()
            .filter(|(s, flip)| !self.entry(&s.id, *flip).exists())
            .map(|(s, flip)| ((*s).clone(), *flip))
            .unzip();
        if samples.is_empty() {
            return Ok(0);
        }
        let loader = Loader::new(
            &samples,
            LoaderConfig {
                pixels: true,
                ..loader.clone()
            },
        );
        let model = model.clone().fold_norms();
        let order: Vec<(usize, bool)> = flips.into_iter().enumerate().collect();
        let mut done = 0;
        for chunk in order.chunks(batch.max(1)) {
            let mut skipped = Skipped::default();
            let examples = loader.batch(chunk, &mut skipped)?;
            let [h, w] = self.input_size;
            let images: Vec<&[u8]> = examples
                .iter()
                .map(|e| e.image.as_raw().as_slice())
                .collect();
            let x = model
                .config
                .backbone
                .arch
                .normalization()
                .batch(&images, h, w, device);
            let encoded = model.encode_taps(x, &self.taps);
            let taps: Vec<(Vec<usize>, Vec<f32>)> = encoded
                .taps
                .into_iter()
                .map(|(_, x)| {
                    let x = x.tensor();
                    let dims = x.dims().to_vec();
                    (
                        dims,
                        x.into_data()
                            .convert::<f32>()
                            .try_into_vec::<f32>()
                            .expect("f32"),
                    )
                })
                .collect();
            for (i, example) in examples.iter().enumerate() {
                let mut bytes = MAGIC.to_vec();
                bytes.extend((taps.len() as u32).to_le_bytes());
                for ((dims, _), tap) in taps.iter().zip(&self.taps) {
                    for value in [tap_index(*tap), dims[1], dims[2], dims[3]] {
                        bytes.extend((value as u32).to_le_bytes());
                    }
                }
                for (dims, values) in &taps {
                    let plane = dims[1] * dims[2] * dims[3];
                    for &v in &values[i * plane..(i + 1) * plane] {
                        bytes.extend(f16::from_f32(v).to_le_bytes());
                    }
                }
                let path = self.entry(&example.id, example.flipped);
                absnet_fs::write_atomically(&path, &bytes).map_err(|e| TrainError::io(&path, e))?;
            }
            done += chunk.len();
            progress(done, samples.len());
        }
        Ok(samples.len())
    }

    /// The cached features of `examples` as one batch on `device`.
    pub fn load(&self, examples: &[Example], device: &Device) -> Result<Encoded, TrainError> {
        let mut shapes: Option<Vec<[usize; 3]>> = None;
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); self.taps.len()];
        for example in examples {
            let path = self.entry(&example.id, example.flipped);
            let bytes = std::fs::read(&path).map_err(|cause| TrainError::NotCached {
                path: path.clone(),
                image: example.id.clone(),
                cause,
            })?;
            let (entry_shapes, data) =
                parse(&bytes, &self.taps).map_err(|problem| TrainError::CacheEntry {
                    path: path.clone(),
                    problem,
                })?;
            match &shapes {
                Some(known) if *known != entry_shapes => {
                    return Err(TrainError::CacheShapes {
                        path,
                        found: entry_shapes,
                        batch: known.clone(),
                    });
                }
                _ => shapes = Some(entry_shapes.clone()),
            }
            let mut offset = 0;
            for (out, [c, h, w]) in values.iter_mut().zip(&entry_shapes) {
                let n = c * h * w;
                out.extend(
                    data[offset..offset + n * 2]
                        .chunks_exact(2)
                        .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()),
                );
                offset += n * 2;
            }
        }
        let shapes = shapes.unwrap_or_default();
        let taps = self
            .taps
            .iter()
            .zip(values)
            .zip(shapes)
            .map(|((&tap, v), [c, h, w])| {
                let shape = [examples.len(), c, h, w];
                (
                    tap,
                    Tensor::<4>::from_data(TensorData::new(v, shape), device).into(),
                )
            })
            .collect();
        Ok(Encoded {
            taps,
            input_size: self.input_size,
        })
    }
}

fn tap_index(tap: Tap) -> usize {
    Tap::ALL.iter().position(|&t| t == tap).expect("a tap")
}

/// An entry's per-tap `[channels, h, w]` and its float16 data, checked against `taps`.
fn parse<'a>(bytes: &'a [u8], taps: &[Tap]) -> Result<(Vec<[usize; 3]>, &'a [u8]), String> {
    let word = |i: usize| -> Result<usize, String> {
        let at = MAGIC.len() + 4 * i;
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| "cut short".to_string())
    };
    if !bytes.starts_with(MAGIC) {
        return Err("not a feature cache entry".into());
    }
    if word(0)? != taps.len() {
        return Err(format!("holds {} taps, expected {}", word(0)?, taps.len()));
    }
    let mut shapes = Vec::new();
    for (i, &tap) in taps.iter().enumerate() {
        if word(1 + 4 * i)? != tap_index(tap) {
            return Err(format!("tap {i} is not {tap:?}"));
        }
        shapes.push([word(2 + 4 * i)?, word(3 + 4 * i)?, word(4 + 4 * i)?]);
    }
    let data = &bytes[MAGIC.len() + 4 * (1 + 4 * taps.len())..];
    let expected: usize = shapes.iter().map(|[c, h, w]| 2 * c * h * w).sum();
    if data.len() != expected {
        return Err(format!(
            "{} bytes of features, expected {expected}",
            data.len()
        ));
    }
    Ok((shapes, data))
}
