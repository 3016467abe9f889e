//! MobileNetV2 (Sandler et al. 2018, width 1.0) in torchvision's layout
//! (`torchvision.models.mobilenet_v2`): `features.0` stem, `features.1..=17` inverted residuals
//! (`conv.0` expansion, `conv.1` depthwise, `conv.2`/`conv.3` projection and its BatchNorm; one
//! index less without expansion), `features.18` head conv, `classifier.1`. BatchNorm eps 1e-5.

use super::mobile::{MobileNet, MobileSpec, Stage};
use crate::NameTable;
use crate::layers::Padding;

const fn stage(expansion: usize, channels: usize, repeats: usize, stride: usize) -> Stage {
    Stage {
        kernel: 3,
        stride,
        expansion,
        channels,
        repeats,
    }
}

/// The paper's Table 2: `(t, c, n, s)`.
pub static MOBILENET_V2: MobileSpec = MobileSpec {
    stages: &[
        stage(1, 16, 1, 1),
        stage(6, 24, 2, 2),
        stage(6, 32, 3, 2),
        stage(6, 64, 4, 2),
        stage(6, 96, 3, 1),
        stage(6, 160, 3, 2),
        stage(6, 320, 1, 1),
    ],
    stem_channels: 32,
    head_channels: 1280,
    eps: 1e-5,
    padding: Padding::Symmetric,
    tap_blocks: [2, 5, 12],
    name_table,
};

fn name_table(net: &MobileNet, table: &mut NameTable) {
    table.conv_norm("features.0.0", "features.0.1", "stem", &net.stem);
    for (i, block) in net.blocks.iter().enumerate() {
        let torch = format!("features.{}.conv", i + 1);
        let ours = format!("blocks.{i}");
        let mut next = 0;
        if let Some(expand) = &block.expand {
            table.conv_norm(
                &format!("{torch}.0.0"),
                &format!("{torch}.0.1"),
                &format!("{ours}.expand"),
                expand,
            );
            next = 1;
        }
        table.conv_norm(
            &format!("{torch}.{next}.0"),
            &format!("{torch}.{next}.1"),
            &format!("{ours}.depthwise"),
            &block.depthwise,
        );
        table.conv_norm(
            &format!("{torch}.{}", next + 1),
            &format!("{torch}.{}", next + 2),
            &format!("{ours}.project"),
            &block.project,
        );
    }
    let head = net.blocks.len() + 1;
    table.conv_norm(
        &format!("features.{head}.0"),
        &format!("features.{head}.1"),
        "head",
        &net.head,
    );
    table.linear("classifier.1", "classifier");
}
