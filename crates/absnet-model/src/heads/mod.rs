//! Task heads. Each reads one feature map of the shared encoder (the neck's output or a backbone
//! tap, per its config) and produces its task's prediction.

mod conv;
mod rating;
mod readout;
mod saliency;

pub use conv::{ConvHead, ConvHeadConfig};
pub use rating::{PyramidPooling, RatingHead, RatingHeadConfig};
pub use readout::{ReadoutHead, ReadoutHeadConfig, Standardise};
pub use saliency::{SaliencyHead, SaliencyHeadConfig, SaliencyOutput};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backbone::Tap;

/// The task heads a model can have, in the order a run trains them. A third task is a variant
/// here, its module beside the others, and its field in [`crate::AbsNet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// Where people look: a map in (0, 1) at the input size.
    Saliency,
    /// How good the photo looks (AVA-format data): a distribution over the scores 1–10.
    Aesthetics,
    /// Perceived picture quality (LIVE-C): a distribution over ten bins of the 0–100 opinion
    /// scale.
    Quality,
}

impl Head {
    pub const ALL: [Head; 3] = [Head::Saliency, Head::Aesthetics, Head::Quality];

    /// The name used in configs, model cards and logs.
    pub fn name(self) -> &'static str {
        match self {
            Head::Saliency => "saliency",
            Head::Aesthetics => "aesthetics",
            Head::Quality => "quality",
        }
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per head (serialised as a map keyed by the heads' names).
pub type PerHead<T> = BTreeMap<Head, T>;

/// Which encoder output a head reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadInput {
    /// The multi-dilation neck (the reference wiring for both heads).
    #[default]
    Neck,
    C2,
    C3,
    C4,
    C5,
}

impl From<Tap> for HeadInput {
    fn from(tap: Tap) -> Self {
        match tap {
            Tap::C2 => HeadInput::C2,
            Tap::C3 => HeadInput::C3,
            Tap::C4 => HeadInput::C4,
            Tap::C5 => HeadInput::C5,
        }
    }
}

impl HeadInput {
    pub fn tap(self) -> Option<Tap> {
        match self {
            HeadInput::Neck => None,
            HeadInput::C2 => Some(Tap::C2),
            HeadInput::C3 => Some(Tap::C3),
            HeadInput::C4 => Some(Tap::C4),
            HeadInput::C5 => Some(Tap::C5),
        }
    }
}
