//! Which model to run: one of the models built into every binary, by name, or a model file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use absnet_model::{AbsNet, ModelCard, ModelError, card};
use burn::tensor::Device;

/// A model built into every binary, so that absnet works wherever it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShippedModel {
    /// `models/fast`: MobileNetV2 with a saliency readout; the default.
    Fast,
    /// `models/accurate`: EfficientNet-Lite2 with a saliency readout.
    Accurate,
    /// `models/quality`: picture quality alone (no saliency head), MobileNetV2 at 512×512.
    Quality,
}

impl ShippedModel {
    pub const ALL: [ShippedModel; 3] = [Self::Fast, Self::Accurate, Self::Quality];

    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Accurate => "accurate",
            Self::Quality => "quality",
        }
    }

    /// The model file, as built in.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::Fast => include_bytes!("../../../models/fast/model.safetensors"),
            Self::Accurate => include_bytes!("../../../models/accurate/model.safetensors"),
            Self::Quality => include_bytes!("../../../models/quality/model.safetensors"),
        }
    }

    /// What records and messages call it: the file it was built from.
    pub fn label(self) -> &'static str {
        match self {
            Self::Fast => "models/fast/model.safetensors (built in)",
            Self::Accurate => "models/accurate/model.safetensors (built in)",
            Self::Quality => "models/quality/model.safetensors (built in)",
        }
    }
}

/// The model a command runs: a built-in one by name (`fast`, `accurate`, `quality`) or a model file
/// (safetensors with its card). A file literally named `fast` is reached as `./fast`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    Shipped(ShippedModel),
    File(PathBuf),
}

impl Default for ModelChoice {
    fn default() -> Self {
        Self::Shipped(ShippedModel::Fast)
    }
}

impl From<PathBuf> for ModelChoice {
    /// A built-in model's name chooses it; any other path is a model file.
    fn from(path: PathBuf) -> Self {
        ShippedModel::ALL
            .into_iter()
            .find(|model| path.as_os_str() == model.name())
            .map_or(Self::File(path), Self::Shipped)
    }
}

impl FromStr for ModelChoice {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(PathBuf::from(text).into())
    }
}

impl fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shipped(model) => f.write_str(model.name()),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl ModelChoice {
    /// What records and messages call the model: its file, or the built-in model's label.
    pub fn label(&self) -> &Path {
        match self {
            Self::Shipped(model) => Path::new(model.label()),
            Self::File(path) => path,
        }
    }

    /// The network and its card.
    pub fn load(&self, device: &Device) -> Result<(AbsNet, ModelCard), ModelError> {
        match self {
            Self::Shipped(model) => card::load_model_bytes(model.bytes(), self.label(), device),
            Self::File(path) => card::load_model(path, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_choose_built_in_models_and_anything_else_is_a_file() {
        assert_eq!("fast".parse(), Ok(ModelChoice::Shipped(ShippedModel::Fast)));
        assert_eq!(
            "accurate".parse(),
            Ok(ModelChoice::Shipped(ShippedModel::Accurate))
        );
        assert_eq!(
            "./fast".parse(),
            Ok(ModelChoice::File(PathBuf::from("./fast")))
        );
        assert_eq!(ModelChoice::default().to_string(), "fast");
    }

    #[test]
    fn every_built_in_model_loads_with_the_heads_it_is_for() {
        use absnet_model::Head;
        for model in ShippedModel::ALL {
            let (network, card) = ModelChoice::Shipped(model).load(&Device::flex()).unwrap();
            let saliency = model != ShippedModel::Quality;
            assert_eq!(network.saliency.is_some(), saliency, "{}", model.name());
            assert_eq!(
                card.is_trained(Head::Saliency),
                saliency,
                "{}",
                model.name()
            );
            assert!(network.quality.is_some(), "{}", model.name());
            assert!(card.is_trained(Head::Quality), "{}", model.name());
        }
    }
}
