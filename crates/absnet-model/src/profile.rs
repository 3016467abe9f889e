//! Where a forward pass spends its work: the convolutions' FLOPs, counted from their geometry
//! (a multiply-add counts 2, as in the FLOP counts papers and profilers report), and the time of
//! each kind of operation. [`profile`] runs a closure with recording on for the calling thread;
//! the model's layers record through [`record`], which costs one thread-local check when nothing
//! is profiling. Timing needs a backend that finishes an operation before returning (Flex does);
//! a lazy backend would charge the work to whichever operation first waits for it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// The kinds of operation a profile tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// 3×3 (or larger) dense convolutions with dilation > 1: the neck's branches.
    DilatedConv,
    /// One filter per channel (MobileNetV2 and EfficientNet's depthwise stages).
    DepthwiseConv,
    /// 1×1 convolutions: expansions, projections, the neck's reduction.
    PointwiseConv,
    /// A depthwise convolution and the projection after it, computed band by band in one pass
    /// (the channels-last engine's inverted-residual blocks).
    DepthwiseSeparable,
    /// Every other convolution: stems, the saliency head's 7×7 layers, ResNet/VGG 3×3.
    DenseConv,
    /// Activations, residual and branch sums, the prior's addition.
    Elementwise,
    /// Bilinear resizing of the prior and of the saliency map to the input size.
    Upsampling,
    /// Max pooling and the aesthetics head's pyramid pooling and fully connected layers.
    PoolingAndLinear,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::DilatedConv => "dilated convolutions",
            OpKind::DepthwiseConv => "depthwise convolutions",
            OpKind::PointwiseConv => "pointwise (1×1) convolutions",
            OpKind::DepthwiseSeparable => "depthwise + projection (fused)",
            OpKind::DenseConv => "other dense convolutions",
            OpKind::Elementwise => "element-wise passes",
            OpKind::Upsampling => "upsampling",
            OpKind::PoolingAndLinear => "pooling and fully connected",
        })
    }
}

/// Calls, FLOPs and time of one kind of operation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OpStats {
    pub calls: u64,
    pub flops: u64,
    pub time: Duration,
}

/// What one profiled closure did, per kind of operation, and how long it took in all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub kinds: BTreeMap<OpKind, OpStats>,
    pub total: Duration,
}

impl Profile {
    /// FLOPs of every recorded operation.
    pub fn flops(&self) -> u64 {
        self.kinds.values().map(|s| s.flops).sum()
    }

    /// Time outside every recorded operation: layout changes between layers, allocation, the
    /// glue of the forward pass.
    pub fn unrecorded(&self) -> Duration {
        let recorded: Duration = self.kinds.values().map(|s| s.time).sum();
        self.total.saturating_sub(recorded)
    }
}

thread_local! {
    static ACTIVE: RefCell<Option<Profile>> = const { RefCell::new(None) };
}

/// Runs `f` with recording on for this thread and returns its result with the profile. Nested
/// calls record into the innermost profile only.
pub fn profile<T>(f: impl FnOnce() -> T) -> (T, Profile) {
    let outer = ACTIVE.with(|active| active.replace(Some(Profile::default())));
    let start = Instant::now();
    let value = f();
    let total = start.elapsed();
    let mut profile = ACTIVE
        .with(|active| active.replace(outer))
        .expect("the profile set above");
    profile.total = total;
    (value, profile)
}

/// Runs `op`, charging its time and `flops` to `kind` when this thread is profiling.
pub(crate) fn record<T>(kind: OpKind, flops: u64, op: impl FnOnce() -> T) -> T {
    if !ACTIVE.with(|active| active.borrow().is_some()) {
        return op();
    }
    let start = Instant::now();
    let value = op();
    let time = start.elapsed();
    ACTIVE.with(|active| {
        if let Some(profile) = active.borrow_mut().as_mut() {
            let stats = profile.kinds.entry(kind).or_default();
            stats.calls += 1;
            stats.flops += flops;
            stats.time += time;
        }
    });
    value
}

/// FLOPs of `x: [batch, input] · Wᵀ: [input, output]`.
pub(crate) fn linear_flops(batch: usize, input: usize, output: usize) -> u64 {
    2 * (batch * input * output) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_outside_a_profile_and_nesting_keeps_them_apart() {
        assert_eq!(record(OpKind::Elementwise, 5, || 1), 1);
        let ((), outer) = profile(|| {
            record(OpKind::Elementwise, 5, || ());
            let ((), inner) = profile(|| record(OpKind::Upsampling, 7, || ()));
            assert_eq!(inner.flops(), 7);
        });
        assert_eq!(outer.flops(), 5);
        assert_eq!(outer.kinds[&OpKind::Elementwise].calls, 1);
        assert!(!outer.kinds.contains_key(&OpKind::Upsampling));
    }
}
