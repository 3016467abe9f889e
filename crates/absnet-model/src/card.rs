//! Model files: one safetensors file holding the weights and, in its `__metadata__`, the model
//! card (architecture config, which heads are trained and on what), with the same card written
//! beside it as pretty JSON for people to read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::weights::{self, StoredPrecision};
use crate::{AbsNet, AbsNetConfig, Head, ModelError, PerHead};

const CARD_KEY: &str = "absnet_card";
const FORMAT: &str = "absnet-model/1";

/// How one head was trained; `trained: false` means its weights are an untrained initialisation
/// and its predictions must not be shown as meaningful.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadTraining {
    pub trained: bool,
    /// Datasets and splits it learned from.
    #[serde(default)]
    pub data: Vec<String>,
    /// Anything else a user should know (metrics, command, licence of the data).
    #[serde(default)]
    pub notes: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    pub name: String,
    pub config: AbsNetConfig,
    /// Where the backbone's initial weights came from.
    pub backbone_weights: String,
    /// Per head: trained or not, on what.
    pub heads: PerHead<HeadTraining>,
    /// Input `[width, height]` the model was trained at (and predicts at by default).
    #[serde(default)]
    pub input: Option<[u32; 2]>,
    /// Predict by default from each photo and its mirror image, averaged.
    #[serde(default)]
    pub flip_average: bool,
    /// Metrics, baselines, command, licences: free text for people.
    #[serde(default)]
    pub notes: String,
}

impl ModelCard {
    pub fn new(name: &str, config: AbsNetConfig, backbone_weights: &str) -> Self {
        let heads = config
            .heads()
            .into_iter()
            .map(|h| (h, HeadTraining::default()))
            .collect();
        Self {
            format: FORMAT.to_string(),
            name: name.to_string(),
            config,
            backbone_weights: backbone_weights.to_string(),
            heads,
            input: None,
            flip_average: false,
            notes: String::new(),
        }
    }

    pub fn is_trained(&self, head: Head) -> bool {
        self.heads.get(&head).is_some_and(|h| h.trained)
    }
}

/// The JSON card written beside `model.safetensors`: `model.json`.
pub fn card_path(model: &Path) -> PathBuf {
    model.with_extension("json")
}

/// Saves weights and card (f16 halves the file; inference accuracy is checked by the caller).
pub fn save_model(
    model: &AbsNet,
    card: &ModelCard,
    path: &Path,
    precision: StoredPrecision,
) -> Result<(), ModelError> {
    let json = serde_json::to_string_pretty(card).expect("a card always serialises");
    let metadata = HashMap::from([(CARD_KEY.to_string(), json.clone())]);
    weights::write_safetensors(
        path,
        &weights::module_tensors(model),
        precision,
        Some(metadata),
    )?;
    let card = card_path(path);
    absnet_fs::write_atomically(&card, json.as_bytes()).map_err(|e| ModelError::io(&card, e))
}

/// Loads a model file written by [`save_model`].
pub fn load_model(path: &Path, device: &Device) -> Result<(AbsNet, ModelCard), ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    load_model_bytes(&bytes, path, device)
}

/// [`load_model`] of a model file already in memory; `path` is what errors call it.
pub fn load_model_bytes(
    bytes: &[u8],
    path: &Path,
    device: &Device,
) -> Result<(AbsNet, ModelCard), ModelError> {
    let (tensors, metadata) = weights::parse_safetensors_with_metadata(bytes, path)?;
    let json = metadata.get(CARD_KEY).ok_or_else(|| ModelError::NoCard {
        path: path.into(),
        key: CARD_KEY,
    })?;
    let card: ModelCard = serde_json::from_str(json).map_err(|cause| ModelError::BadCard {
        path: path.into(),
        cause,
    })?;
    if card.format != FORMAT {
        return Err(ModelError::Format {
            path: path.into(),
            found: card.format,
            expected: FORMAT,
        });
    }
    let model = AbsNet::new(&card.config, device)?;
    let arch = card.config.backbone.arch.name();
    let model = weights::load_tensors(model, tensors, path, arch)?;
    Ok((model, card))
}
