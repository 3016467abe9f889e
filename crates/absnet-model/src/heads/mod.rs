//! Task heads. Each reads one feature map of the shared encoder (the neck's output or a backbone
//! tap, per its config) and produces its task's prediction.

mod aesthetics;
mod saliency;

pub use aesthetics::{AestheticsHead, AestheticsHeadConfig, PyramidPooling};
pub use saliency::{SaliencyHead, SaliencyHeadConfig};

use serde::{Deserialize, Serialize};

use crate::backbone::Tap;

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
