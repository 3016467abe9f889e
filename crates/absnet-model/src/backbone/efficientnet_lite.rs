//! EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le 2019; the edge "Lite" variant: no
//! squeeze-excitation, ReLU6, stem, head and the first and last stages' depth not scaled) in
//! efficientnet_pytorch's layout: `_conv_stem`, `_bn0`,
//! `_blocks.N.{_expand_conv,_bn0,_depthwise_conv,_bn1,_project_conv,_bn2}`, `_conv_head`,
//! `_bn1`, `_fc`. BatchNorm eps 1e-3, TensorFlow "same" padding, input `(x - 127) / 128`.

use super::mobile::{MobileNet, MobileSpec, Stage};
use crate::NameTable;
use crate::layers::Padding;

const fn stage(
    kernel: usize,
    stride: usize,
    expansion: usize,
    channels: usize,
    repeats: usize,
) -> Stage {
    Stage {
        kernel,
        stride,
        expansion,
        channels,
        repeats,
    }
}

/// EfficientNet-B0's block table (width and depth multipliers 1.0 for Lite0).
pub static EFFICIENTNET_LITE0: MobileSpec = MobileSpec {
    stages: &[
        stage(3, 1, 1, 16, 1),
        stage(3, 2, 6, 24, 2),
        stage(5, 2, 6, 40, 2),
        stage(3, 2, 6, 80, 3),
        stage(5, 1, 6, 112, 3),
        stage(5, 2, 6, 192, 4),
        stage(3, 1, 6, 320, 1),
    ],
    stem_channels: 32,
    head_channels: 1280,
    eps: 1e-3,
    padding: Padding::TfSame,
    tap_blocks: [2, 4, 10],
    name_table,
};

/// Lite1: depth multiplier 1.1 (the middle stages one block deeper), width 1.0.
pub static EFFICIENTNET_LITE1: MobileSpec = MobileSpec {
    stages: &[
        stage(3, 1, 1, 16, 1),
        stage(3, 2, 6, 24, 3),
        stage(5, 2, 6, 40, 3),
        stage(3, 2, 6, 80, 4),
        stage(5, 1, 6, 112, 4),
        stage(5, 2, 6, 192, 5),
        stage(3, 1, 6, 320, 1),
    ],
    tap_blocks: [3, 6, 14],
    ..EFFICIENTNET_LITE0
};

/// Lite2: depth multiplier 1.2 (the same block counts as Lite1), width 1.1 (channels rounded to
/// multiples of 8, as efficientnet_pytorch's `round_filters`).
pub static EFFICIENTNET_LITE2: MobileSpec = MobileSpec {
    stages: &[
        stage(3, 1, 1, 16, 1),
        stage(3, 2, 6, 24, 3),
        stage(5, 2, 6, 48, 3),
        stage(3, 2, 6, 88, 4),
        stage(5, 1, 6, 120, 4),
        stage(5, 2, 6, 208, 5),
        stage(3, 1, 6, 352, 1),
    ],
    tap_blocks: [3, 6, 14],
    ..EFFICIENTNET_LITE0
};

fn name_table(net: &MobileNet, table: &mut NameTable) {
    table.conv_norm("_conv_stem", "_bn0", "stem", &net.stem);
    for (i, block) in net.blocks.iter().enumerate() {
        let torch = format!("_blocks.{i}");
        let ours = format!("blocks.{i}");
        if let Some(expand) = &block.expand {
            table.conv_norm(
                &format!("{torch}._expand_conv"),
                &format!("{torch}._bn0"),
                &format!("{ours}.expand"),
                expand,
            );
        }
        table.conv_norm(
            &format!("{torch}._depthwise_conv"),
            &format!("{torch}._bn1"),
            &format!("{ours}.depthwise"),
            &block.depthwise,
        );
        table.conv_norm(
            &format!("{torch}._project_conv"),
            &format!("{torch}._bn2"),
            &format!("{ours}.project"),
            &block.project,
        );
    }
    table.conv_norm("_conv_head", "_bn1", "head", &net.head);
    table.linear("_fc", "classifier");
}
