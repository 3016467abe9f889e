//! ABSNet assembled from its config: a shared encoder (backbone + multi-dilation neck) and one
//! branch per task (hard parameter sharing). A single-task model is the same config with one
//! head.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::backbone::{Backbone, BackboneConfig, Tap};
use crate::channels_last::{Engine, Features};
use crate::heads::{
    Head, HeadInput, PerHead, RatingHead, RatingHeadConfig, SaliencyHead, SaliencyHeadConfig,
};
use crate::neck::{MultiDilation, NeckConfig};
use crate::weights::{self, TensorMap};

/// The heads a model has; at least one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadsConfig {
    pub saliency: Option<SaliencyHeadConfig>,
    pub aesthetics: Option<RatingHeadConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<RatingHeadConfig>,
}

impl HeadsConfig {
    /// The encoder outputs each configured head reads.
    pub fn inputs(&self) -> PerHead<Vec<HeadInput>> {
        let saliency = self.saliency.as_ref().map(|h| (Head::Saliency, h.inputs()));
        let ratings = self.ratings().map(|(head, config)| (head, config.inputs()));
        saliency.into_iter().chain(ratings).collect()
    }

    /// The image-rating heads configured, with their configs.
    pub fn ratings(&self) -> impl Iterator<Item = (Head, &RatingHeadConfig)> {
        [
            (Head::Aesthetics, self.aesthetics.as_ref()),
            (Head::Quality, self.quality.as_ref()),
        ]
        .into_iter()
        .filter_map(|(head, config)| Some((head, config?)))
    }

    fn validate(&self) -> Result<(), ModelError> {
        if let Some(head) = &self.saliency {
            head.validate()?;
        }
        for (head, config) in self.ratings() {
            config.validate(head)?;
        }
        Ok(())
    }
}

/// Architecture of an ABSNet model (`[backbone]`, `[neck]`, `[heads.saliency]`,
/// `[heads.aesthetics]` in TOML).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbsNetConfig {
    pub backbone: BackboneConfig,
    #[serde(default)]
    pub neck: NeckConfig,
    pub heads: HeadsConfig,
}

impl AbsNetConfig {
    /// The reference layout on a given backbone: neck 256 ch with dilations 4/8/16, both heads
    /// reading the neck, output stride 8.
    pub fn reference(backbone: BackboneConfig) -> Self {
        Self {
            backbone,
            neck: NeckConfig::default(),
            heads: HeadsConfig {
                saliency: Some(SaliencyHeadConfig::default()),
                aesthetics: Some(RatingHeadConfig::default()),
                quality: None,
            },
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        self.backbone.validate()?;
        self.neck.validate()?;
        if self.heads.inputs().is_empty() {
            let names: Vec<String> = Head::ALL.iter().map(|h| format!("[heads.{h}]")).collect();
            return Err(ModelError::Config(format!(
                "heads: a model needs at least one of {}",
                names.join(", ")
            )));
        }
        self.heads.validate()
    }

    /// The heads the model has.
    pub fn heads(&self) -> Vec<Head> {
        self.heads.inputs().into_keys().collect()
    }

    /// Backbone taps a forward pass through `heads` needs, shallowest first, each once; and
    /// whether it needs the neck.
    pub fn taps(&self, heads: &[Head]) -> (Vec<Tap>, bool) {
        let inputs: Vec<HeadInput> = self
            .heads
            .inputs()
            .into_iter()
            .filter(|(h, _)| heads.contains(h))
            .flat_map(|(_, i)| i)
            .collect();
        let uses_neck = inputs.contains(&HeadInput::Neck);
        let mut taps: Vec<Tap> = inputs.iter().filter_map(|i| i.tap()).collect();
        if uses_neck {
            taps.push(self.neck.input);
        }
        taps.sort();
        taps.dedup();
        (taps, uses_neck)
    }

    /// The taps a forward pass through `heads` needs from an encoder frozen up to and
    /// including `frozen`: those at or before it, and `frozen` itself when a deeper one is needed
    /// (the layers past it start from there).
    pub fn taps_through(&self, heads: &[Head], frozen: Tap) -> Vec<Tap> {
        let (taps, _) = self.taps(heads);
        let mut through: Vec<Tap> = taps.iter().copied().filter(|&t| t <= frozen).collect();
        if taps.iter().any(|&t| t > frozen) && !through.contains(&frozen) {
            through.push(frozen);
        }
        through
    }

    pub fn from_toml(text: &str) -> Result<Self, ModelError> {
        let config: Self =
            toml::from_str(text).map_err(|e| ModelError::Config(e.message().to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// What one forward pass predicts.
#[derive(Debug)]
pub struct AbsNetOutput {
    /// `[batch, 1, height, width]` in (0, 1], at the input size.
    pub saliency: Option<Tensor<4>>,
    /// The saliency head's own log-density over its grid (a readout head; `None` for the conv
    /// head, whose map is not a density).
    pub log_density: Option<Tensor<4>>,
    /// `[batch, bins]`, rows summing to 1.
    pub aesthetics: Option<Tensor<2>>,
    /// `[batch, bins]`, rows summing to 1.
    pub quality: Option<Tensor<2>>,
}

impl AbsNetOutput {
    /// The score distributions of the image-rating head `head` (aesthetics or quality).
    pub fn rating(self, head: Head) -> Option<Tensor<2>> {
        match head {
            Head::Aesthetics => self.aesthetics,
            Head::Quality => self.quality,
            Head::Saliency => None,
        }
    }
}

#[derive(Module, Debug)]
pub struct AbsNet {
    pub backbone: Backbone,
    pub neck: Option<MultiDilation>,
    pub saliency: Option<SaliencyHead>,
    pub aesthetics: Option<RatingHead>,
    pub quality: Option<RatingHead>,
    #[module(skip)]
    pub config: AbsNetConfig,
}

/// The backbone's features of a batch: what the heads read, and what a frozen encoder's
/// feature cache stores.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The taps [`AbsNetConfig::taps`] names, in that order.
    pub taps: Vec<(Tap, Features)>,
    /// The model input `[height, width]` the features were computed from.
    pub input_size: [usize; 2],
}

impl Encoded {
    /// The same features cut from the autodiff graph: nothing before them trains.
    pub fn detached(self) -> Self {
        Self {
            taps: self
                .taps
                .into_iter()
                .map(|(t, x)| (t, x.detach()))
                .collect(),
            ..self
        }
    }

    fn tap(&self, tap: Tap) -> Features {
        self.taps
            .iter()
            .find(|(t, _)| *t == tap)
            .map(|(_, x)| x.clone())
            .expect("every tap a head reads is encoded")
    }
}

/// Something done to each head module, whatever its type (gathering its gradients, say).
pub trait HeadVisitor {
    fn visit<M: Module>(&mut self, head: Head, module: &M);
}

/// Something that turns each head module into a new one (an optimizer step, say).
pub trait HeadMapper {
    fn map<M: Module>(&mut self, head: Head, module: M) -> M;
}

impl AbsNet {
    pub fn new(config: &AbsNetConfig, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let backbone = Backbone::new(&config.backbone, device)?;
        let channels = backbone.tap_channels();
        let (_, uses_neck) = config.taps(&config.heads());
        let neck = uses_neck
            .then(|| MultiDilation::new(&config.neck, channels[config.neck.input.index()], device));
        let input_channels = |input: HeadInput| match input.tap() {
            Some(tap) => channels[tap.index()],
            None => config.neck.channels,
        };
        let saliency = config.heads.saliency.as_ref().map(|h| {
            let channels: Vec<usize> = h.inputs().into_iter().map(input_channels).collect();
            SaliencyHead::new(h, &channels, device)
        });
        let rating = |h: &RatingHeadConfig| {
            let channels: Vec<usize> = h.inputs().into_iter().map(input_channels).collect();
            RatingHead::new(h, &channels, device)
        };
        Ok(Self {
            backbone,
            neck,
            saliency,
            aesthetics: config.heads.aesthetics.as_ref().map(rating),
            quality: config.heads.quality.as_ref().map(rating),
            config: config.clone(),
        })
    }

    /// Hands each head module the model has to `visitor`.
    pub fn visit_heads(&self, visitor: &mut impl HeadVisitor) {
        if let Some(m) = &self.saliency {
            visitor.visit(Head::Saliency, m);
        }
        if let Some(m) = &self.aesthetics {
            visitor.visit(Head::Aesthetics, m);
        }
        if let Some(m) = &self.quality {
            visitor.visit(Head::Quality, m);
        }
    }

    /// Replaces each head module the model has by what `mapper` makes of it.
    pub fn map_heads(self, mapper: &mut impl HeadMapper) -> Self {
        Self {
            saliency: self.saliency.map(|m| mapper.map(Head::Saliency, m)),
            aesthetics: self.aesthetics.map(|m| mapper.map(Head::Aesthetics, m)),
            quality: self.quality.map(|m| mapper.map(Head::Quality, m)),
            ..self
        }
    }

    /// `x`: normalised images `[batch, 3, height, width]`, any height and width.
    pub fn forward(&self, x: Tensor<4>) -> AbsNetOutput {
        self.forward_heads(x, &Head::ALL)
    }

    /// [`AbsNet::forward`] for inference, one image at a time, the images run concurrently on
    /// the worker threads (each image's layers parallel inside too, wherever a thread is
    /// free). One image's feature maps stay in the caches where a batch's do not: on 2 threads of
    /// AMD Zen 4, batch 8 at 320×480 takes 104–105 ms/image this way against 109 with one part of
    /// 4 images per thread (and 203 against 217 on one thread). Other backends get one forward
    /// from this thread: a GPU runs a batch as a whole.
    pub fn forward_parallel(&self, x: Tensor<4>) -> AbsNetOutput {
        if x.device() != Device::flex() {
            return self.forward(x);
        }
        self.forward_each(x)
    }

    /// [`AbsNet::forward_parallel`] averaged over each image and its mirror image (test-time
    /// augmentation): the saliency densities are averaged (each map normalised to sum 1 first,
    /// the mirror's flipped back), then scaled to a maximum of 1; the log-densities are those of
    /// the averaged densities; score distributions are averaged.
    pub fn forward_mirrored(&self, x: Tensor<4>) -> AbsNetOutput {
        let batch = x.dims()[0];
        let both = Tensor::cat(vec![x.clone(), x.flip([3])], 0);
        let out = self.forward_parallel(both);
        let halves = |t: Tensor<4>| {
            let mirrored = t.clone().slice(batch..2 * batch).flip([3]);
            (t.slice(0..batch), mirrored)
        };
        let per_image = |t: Tensor<4>, reduce: fn(Tensor<2>) -> Tensor<2>| {
            let [b, c, h, w] = t.dims();
            reduce(t.reshape([b, c * h * w])).reshape([b, 1, 1, 1])
        };
        let saliency = out.saliency.map(|maps| {
            let (a, b) = halves(maps);
            let a = a.clone() / per_image(a, |t| t.sum_dim(1));
            let b = b.clone() / per_image(b, |t| t.sum_dim(1));
            let mean = a + b;
            mean.clone() / per_image(mean, |t| t.max_dim(1))
        });
        let log_density = out.log_density.map(|d| {
            let (a, b) = halves(d);
            ((a.exp() + b.exp()) * 0.5).log()
        });
        let averaged = |d: Tensor<2>| {
            let mirrored = d.clone().slice(batch..2 * batch);
            (d.slice(0..batch) + mirrored) * 0.5
        };
        AbsNetOutput {
            saliency,
            log_density,
            aesthetics: out.aesthetics.map(averaged),
            quality: out.quality.map(averaged),
        }
    }

    /// [`AbsNet::forward`] of each image alone, the halves of the batch run by `rayon::join`.
    fn forward_each(&self, x: Tensor<4>) -> AbsNetOutput {
        let batch = x.dims()[0];
        if batch < 2 {
            return self.forward(x);
        }
        let cut = batch / 2;
        let (first, second) = (x.clone().slice(0..cut), x.slice(cut..batch));
        let (a, b) = rayon::join(|| self.forward_each(first), || self.forward_each(second));
        AbsNetOutput {
            saliency: concatenated(a.saliency, b.saliency),
            log_density: concatenated(a.log_density, b.log_density),
            aesthetics: concatenated(a.aesthetics, b.aesthetics),
            quality: concatenated(a.quality, b.quality),
        }
    }

    /// Like [`AbsNet::forward`], computing only `heads` (a training step of one task needs one
    /// head); heads the model lacks give `None`.
    pub fn forward_heads(&self, x: Tensor<4>, heads: &[Head]) -> AbsNetOutput {
        self.decode(self.encode(x, heads), heads)
    }

    /// The backbone's part of [`AbsNet::forward_heads`]: the taps `heads` read.
    pub fn encode(&self, x: Tensor<4>, heads: &[Head]) -> Encoded {
        let (taps, _) = self.config.taps(heads);
        self.encode_taps(x, &taps)
    }

    /// The backbone's `taps` of the images `x`.
    pub fn encode_taps(&self, x: Tensor<4>, taps: &[Tap]) -> Encoded {
        let [_, _, height, width] = x.dims();
        let features = self.backbone.features_after(x.into(), None, taps);
        Encoded {
            taps: taps.iter().copied().zip(features).collect(),
            input_size: [height, width],
        }
    }

    /// Completes `partial` — the taps up to `after` ([`AbsNetConfig::taps_through`]) — with
    /// the deeper taps `heads` read, running only the backbone's layers past `after`.
    pub fn encode_after(&self, partial: Encoded, after: Tap, heads: &[Head]) -> Encoded {
        let (taps, _) = self.config.taps(heads);
        let deeper: Vec<Tap> = taps.iter().copied().filter(|&t| t > after).collect();
        let mut encoded = Encoded {
            taps: Vec::new(),
            input_size: partial.input_size,
        };
        let mut computed = if deeper.is_empty() {
            Vec::new()
        } else {
            self.backbone
                .features_after(partial.tap(after), Some(after), &deeper)
        }
        .into_iter();
        for tap in taps {
            let x = if tap > after {
                computed.next().expect("one tensor per deeper tap")
            } else {
                partial.tap(tap)
            };
            encoded.taps.push((tap, x));
        }
        encoded
    }

    /// The rest of [`AbsNet::forward_heads`] from the backbone's features: the neck and the
    /// heads.
    pub fn decode(&self, encoded: Encoded, heads: &[Head]) -> AbsNetOutput {
        let (_, uses_neck) = self.config.taps(heads);
        let neck = self
            .neck
            .as_ref()
            .filter(|_| uses_neck)
            .map(|neck| neck.forward(&encoded.tap(self.config.neck.input)));
        let inputs = self.config.heads.inputs();
        let input = |head: Head| -> Option<Vec<Features>> {
            let wanted = heads.contains(&head).then(|| inputs.get(&head)).flatten()?;
            Some(
                wanted
                    .iter()
                    .map(|i| match i.tap() {
                        Some(t) => encoded.tap(t),
                        None => neck
                            .clone()
                            .expect("a head reading the neck builds the neck"),
                    })
                    .collect(),
            )
        };
        let saliency = self
            .saliency
            .as_ref()
            .zip(input(Head::Saliency))
            .map(|(h, x)| h.forward(x, encoded.input_size));
        let (saliency, log_density) = match saliency {
            Some(out) => (Some(out.map), out.log_density),
            None => (None, None),
        };
        AbsNetOutput {
            saliency,
            log_density,
            aesthetics: self
                .aesthetics
                .as_ref()
                .zip(input(Head::Aesthetics))
                .map(|(h, x)| h.forward_features(&x)),
            quality: self
                .quality
                .as_ref()
                .zip(input(Head::Quality))
                .map(|(h, x)| h.forward_features(&x)),
        }
    }

    /// Loads ImageNet weights into the backbone from an upstream checkpoint (`.pth`, `.pt` or
    /// `.safetensors` with upstream names) or from a converted file (module paths).
    pub fn load_backbone(self, path: &Path) -> Result<Self, ModelError> {
        let tensors = read_backbone_weights(&self.backbone, path)?;
        let backbone = weights::load_tensors(
            self.backbone,
            tensors,
            path,
            self.config.backbone.arch.name(),
        )?;
        Ok(Self { backbone, ..self })
    }

    /// Folds BatchNorm into convolutions: faster inference, same outputs. Not for training.
    /// Inference on Flex then runs the encoder on the default [`Engine`].
    pub fn fold_norms(self) -> Self {
        Self {
            backbone: self.backbone.fold_norms(),
            ..self
        }
        .neck_and_saliency_on(Engine::default())
    }

    /// The convolutions the encoder's, the neck's and the conv saliency head's inference
    /// forward on Flex runs (to compare engines; [`AbsNet::fold_norms`] picks the default).
    pub fn with_engine(self, engine: Engine) -> Self {
        Self {
            backbone: self.backbone.with_engine(engine),
            ..self
        }
        .neck_and_saliency_on(engine)
    }

    fn neck_and_saliency_on(self, engine: Engine) -> Self {
        Self {
            neck: self.neck.map(|neck| neck.with_engine(engine)),
            saliency: self.saliency.map(|head| head.with_engine(engine)),
            ..self
        }
    }
}

/// Two parts of a batch's output, in order.
fn concatenated<const D: usize>(a: Option<Tensor<D>>, b: Option<Tensor<D>>) -> Option<Tensor<D>> {
    a.zip(b).map(|(a, b)| Tensor::cat(vec![a, b], 0))
}

/// Backbone weights as module paths, whether `path` holds upstream names (renamed through the
/// architecture's name table), already-converted ones, or is an absnet model file (its
/// encoder).
pub fn read_backbone_weights(backbone: &Backbone, path: &Path) -> Result<TensorMap, ModelError> {
    let mut source = weights::read_checkpoint(path)?;
    let expected = weights::parameter_shapes(backbone);
    // An absnet model file: its encoder, under `backbone.`.
    if source.keys().any(|k| k.starts_with("backbone.")) {
        source = source
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("backbone.")?.to_string(), v)))
            .collect();
    }
    // A converted file names module paths; an ImageNet classifier it carries is dropped when
    // the backbone was built without one.
    if source.keys().any(|k| expected.contains_key(k)) {
        return Ok(source
            .into_iter()
            .filter(|(k, _)| expected.contains_key(k) || !k.starts_with("classifier."))
            .collect());
    }
    backbone
        .name_table("")
        .apply(source, &expected, path, backbone.arch().name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arch, BackboneConfig};
    use burn::tensor::Distribution;

    fn largest_difference<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn a_batch_run_image_by_image_gives_the_whole_batch_result() {
        let device = Device::flex();
        let mut config = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
        config.neck.channels = 16;
        let model = AbsNet::new(&config, &device).unwrap();
        let x = Tensor::<4>::random([3, 3, 48, 64], Distribution::Normal(0.0, 1.0), &device);
        let (whole, parts) = (model.forward(x.clone()), model.forward_each(x));
        assert_eq!(parts.saliency.as_ref().unwrap().dims(), [3, 1, 48, 64]);
        assert!(largest_difference(whole.saliency.unwrap(), parts.saliency.unwrap()) < 1e-6);
        assert!(largest_difference(whole.aesthetics.unwrap(), parts.aesthetics.unwrap()) < 1e-6);
    }

    #[test]
    fn an_encoder_resumed_past_a_tap_gives_the_whole_encoders_taps() {
        let device = Device::flex();
        for (arch, stride) in [
            (Arch::MobilenetV2, 32),
            (Arch::EfficientnetLite0, 32),
            (Arch::MobilenetV2, 8),
            (Arch::Resnet50, 8),
            (Arch::Vgg16, 16),
        ] {
            let mut backbone = BackboneConfig::new(arch);
            backbone.output_stride = stride;
            let mut config = AbsNetConfig::reference(backbone);
            config.neck.channels = 8;
            let model = AbsNet::new(&config, &device).unwrap();
            let x = Tensor::<4>::random([2, 3, 64, 96], Distribution::Normal(0.0, 1.0), &device);
            let heads = config.heads();
            let whole = model.encode_taps(x.clone(), &Tap::ALL);
            for after in [Tap::C2, Tap::C3, Tap::C4, Tap::C5] {
                let through: Vec<Tap> = Tap::ALL.into_iter().filter(|&t| t <= after).collect();
                let partial = model.encode_taps(x.clone(), &through);
                let resumed = model.backbone.forward_taps_after(
                    partial.tap(after).tensor(),
                    Some(after),
                    &Tap::ALL[after.index()..],
                );
                for (tap, y) in Tap::ALL[after.index()..].iter().zip(resumed) {
                    let d = largest_difference(whole.tap(*tap).tensor(), y);
                    assert!(d < 1e-5, "{arch:?} after {after:?}: {tap:?} differs by {d}");
                }
            }
            // The heads' taps through a frozen c4, completed.
            let partial = model.encode_taps(x.clone(), &config.taps_through(&heads, Tap::C4));
            let completed = model.encode_after(partial, Tap::C4, &heads);
            let direct = model.encode(x, &heads);
            for ((a, x), (b, y)) in completed.taps.into_iter().zip(direct.taps) {
                assert_eq!(a, b);
                assert!(
                    largest_difference(x.tensor(), y.tensor()) < 1e-5,
                    "{arch:?} {a:?}"
                );
            }
        }
    }
}
