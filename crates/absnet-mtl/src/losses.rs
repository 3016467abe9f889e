//! Task losses on batches, differentiable. Saliency maps are `[batch, 1, h, w]` in (0, 1);
//! ground-truth densities `[batch, 1, h, w]` summing to 1 per image; fixation masks
//! `[batch, 1, h, w]` of 0/1. Score distributions are `[batch, 10]`. Every loss is the mean over
//! the batch.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Keeps divisions and logarithms finite in f32.
const EPS: f32 = 1e-7;

/// Each image as a distribution over its pixels: `[batch, h·w]`, rows summing to 1.
fn as_distribution(map: Tensor<4>) -> Tensor<2> {
    let [b, _, h, w] = map.dims();
    let flat = map.reshape([b, h * w]);
    flat.clone() / (flat.sum_dim(1) + EPS)
}

/// KL divergence of the prediction from the ground truth (both normalised to sum 1), as the
/// MIT benchmark's KLdiv.m: `Σ G · ln(ε + G / (P + ε))`.
pub fn kld(prediction: Tensor<4>, density: Tensor<4>) -> Tensor<1> {
    let p = as_distribution(prediction);
    let g = as_distribution(density);
    let terms = g.clone() * (g / (p + EPS) + EPS).log();
    terms.sum_dim(1).mean().reshape([1])
}

/// Total variation distance `½ Σ |P − G|` between the normalised maps (the reference's saliency
/// loss).
pub fn tv(prediction: Tensor<4>, density: Tensor<4>) -> Tensor<1> {
    let p = as_distribution(prediction);
    let g = as_distribution(density);
    ((p - g).abs().sum_dim(1) * 0.5).mean().reshape([1])
}

/// Standardises each image: `(x − mean) / std` over its pixels (population std).
fn standardise(x: Tensor<2>) -> Tensor<2> {
    let centred = x.clone() - x.mean_dim(1);
    let std = (centred.clone().powi_scalar(2).mean_dim(1) + EPS).sqrt();
    centred / std
}

/// `1 − CC`: one minus Pearson's correlation of prediction and density (0 when perfect).
pub fn cc(prediction: Tensor<4>, density: Tensor<4>) -> Tensor<1> {
    let [b, _, h, w] = prediction.dims();
    let p = standardise(prediction.reshape([b, h * w]));
    let g = standardise(density.reshape([b, h * w]));
    let correlation = (p * g).mean_dim(1);
    (correlation.neg() + 1.0).mean().reshape([1])
}

/// `−NSS`: minus the mean standardised prediction at the fixated pixels of each image.
pub fn nss(prediction: Tensor<4>, fixations: Tensor<4>) -> Tensor<1> {
    let [b, _, h, w] = prediction.dims();
    let p = standardise(prediction.reshape([b, h * w]));
    let mask = fixations.reshape([b, h * w]);
    let per_image = (p * mask.clone()).sum_dim(1) / (mask.sum_dim(1) + EPS);
    per_image.neg().mean().reshape([1])
}

/// Each image's mean log-probability of its fixations' cells, `Σ c · ln P / Σ c` in nats
/// (`c` the fixation counts per cell); `[batch]`.
fn fixation_log_probabilities(log_density: Tensor<4>, fixations: Tensor<4>) -> Tensor<1> {
    let [b, _, h, w] = log_density.dims();
    let log_density = log_density.reshape([b, h * w]);
    let counts = fixations.reshape([b, h * w]);
    let per_image = (log_density * counts.clone()).sum_dim(1) / (counts.sum_dim(1) + EPS);
    per_image.reshape([b])
}

/// Each image's mean log-likelihood of its fixations under a log-density, in nats per fixation
/// relative to a uniform density over the same cells (0: no better than uniform):
/// `Σ c · ln P / Σ c + ln(h·w)`, `c` the fixation counts per cell; `[batch]`.
pub fn log_likelihoods(log_density: Tensor<4>, fixations: Tensor<4>) -> Tensor<1> {
    let [_, _, h, w] = log_density.dims();
    fixation_log_probabilities(log_density, fixations) + ((h * w) as f32).ln()
}

/// The negative log-likelihood of the fixations (DeepGaze's loss), in nats per fixation:
/// `−Σ c · ln P / Σ c`, averaged over the batch. Minus [`log_likelihoods`] up to the constant
/// `ln(h·w)` — the same gradient — but never negative, so that the balancing methods that read
/// a loss's scale (uncertainty, DWA, GradNorm, FAMO) can weigh it.
pub fn nll(log_density: Tensor<4>, fixations: Tensor<4>) -> Tensor<1> {
    fixation_log_probabilities(log_density, fixations)
        .mean()
        .neg()
        .reshape([1])
}

/// The log of each image's map normalised to sum 1, `[batch, 1, h, w]`: a map's log-density.
pub fn log_of_distribution(map: Tensor<4>) -> Tensor<4> {
    let dims = map.dims();
    (as_distribution(map) + EPS).log().reshape(dims)
}

/// Mean squared error against the density rescaled to a maximum of 1.
pub fn mse(prediction: Tensor<4>, density: Tensor<4>) -> Tensor<1> {
    let [b, _, h, w] = prediction.dims();
    let p = prediction.reshape([b, h * w]);
    let g = density.reshape([b, h * w]);
    let g = g.clone() / (g.max_dim(1) + EPS);
    (p - g).powi_scalar(2).mean().reshape([1])
}

/// Earth mover's distance with r = 2 between score distributions (NIMA's loss, the ABSNet
/// aesthetics loss): `sqrt(mean_k (CDF_p(k) − CDF_q(k))²)`, averaged over the batch. The target
/// rows are normalised (vote counts are fine).
pub fn emd2(predicted: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let target = target.clone() / (target.sum_dim(1) + EPS);
    let difference = predicted.cumsum(1) - target.cumsum(1);
    (difference.powi_scalar(2).mean_dim(1) + EPS)
        .sqrt()
        .mean()
        .reshape([1])
}

/// `1 − PLCC`: one minus Pearson's correlation of a batch's predicted mean scores and their
/// targets, `[batch]` each (0 when perfect, 2 at worst; a loss on the ranking the correlation
/// metrics score, blind to scale and offset, so it goes with an L1/L2 or EMD term).
pub fn plcc(predicted: Tensor<1>, target: Tensor<1>) -> Tensor<1> {
    let n = predicted.dims()[0];
    let p = standardise(predicted.reshape([1, n]));
    let t = standardise(target.reshape([1, n]));
    ((p * t).mean().neg() + 1.0).reshape([1])
}

/// The standard normal's distribution function, `Φ(x) = ½ (1 + erf(x / √2))`.
fn normal_cdf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    ((x / std::f32::consts::SQRT_2).erf() + 1.0) * 0.5
}

/// The fidelity loss over every pair of a batch (UNIQUE's, Zhang et al., IEEE TIP 2021): for a
/// pair `(i, j)`, the probability that `i` is rated above `j` under Thurstone's model — `Φ((μᵢ −
/// μⱼ) / √(σᵢ² + σⱼ²))` — from the predicted distributions' means and standard deviations, `p`,
/// and from the raters', `q`; the loss is `1 − √(p·q) − √((1 − p)(1 − q))`, 0 when they agree,
/// averaged over the `n (n − 1)` ordered pairs. Means and deviations `[batch]` each, on one scale.
/// A ranking loss that reads how sure the raters were: a pair whose scores differ by less than
/// their spread asks for little.
pub fn fidelity(
    predicted_mean: Tensor<1>,
    predicted_sd: Tensor<1>,
    mean: Tensor<1>,
    sd: Tensor<1>,
) -> Tensor<1> {
    let n = predicted_mean.dims()[0];
    let preference = |mean: Tensor<1>, sd: Tensor<1>| {
        let difference = mean.clone().unsqueeze_dim::<2>(1) - mean.unsqueeze_dim::<2>(0);
        let variance = sd.clone().powi_scalar(2).unsqueeze_dim::<2>(1)
            + sd.powi_scalar(2).unsqueeze_dim::<2>(0);
        normal_cdf(difference / (variance + EPS).sqrt())
    };
    let p = preference(predicted_mean, predicted_sd);
    let q = preference(mean, sd);
    let agreement =
        (p.clone() * q.clone() + EPS).sqrt() + ((p.neg() + 1.0) * (q.neg() + 1.0) + EPS).sqrt();
    // The diagonal (p = q = ½) adds 0 up to EPS; the mean is over the off-diagonal pairs.
    let pairs = (n * n.saturating_sub(1)).max(1) as f32;
    ((agreement.neg() + 1.0).sum() / pairs).reshape([1])
}

/// What a saliency batch is scored against.
pub struct SaliencyTargets {
    /// Ground-truth densities at the input size, `[batch, 1, h, w]`, each summing to 1.
    pub density: Tensor<4>,
    /// Fixated pixels at the input size, `[batch, 1, h, w]` of 0/1.
    pub fixations: Tensor<4>,
    /// Fixation counts on the grid of the model's own log-density (a readout head), for `nll`.
    pub grid_fixations: Option<Tensor<4>>,
}

/// A weighted sum of saliency losses (`tv = 1` and nothing else is the reference's choice;
/// `nll = 1` alone is DeepGaze's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SaliencyLoss {
    pub tv: f32,
    pub kld: f32,
    pub cc: f32,
    pub nss: f32,
    pub mse: f32,
    /// The fixations' negative log-likelihood under the model's own density (a readout head),
    /// or under the map normalised to sum 1.
    pub nll: f32,
}

impl Default for SaliencyLoss {
    fn default() -> Self {
        Self {
            tv: 1.0,
            kld: 0.0,
            cc: 0.0,
            nss: 0.0,
            mse: 0.0,
            nll: 0.0,
        }
    }
}

impl SaliencyLoss {
    /// Every weight finite and ≥ 0, and at least one above 0.
    pub fn validate(&self) -> Result<(), crate::error::ConfigError> {
        let weights = [
            ("tv", self.tv),
            ("kld", self.kld),
            ("cc", self.cc),
            ("nss", self.nss),
            ("mse", self.mse),
            ("nll", self.nll),
        ];
        for (name, weight) in weights {
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(crate::error::ConfigError::invalid(
                    format!("saliency.loss.{name}"),
                    format!("{weight}: expected a finite weight ≥ 0"),
                ));
            }
        }
        if weights.iter().all(|(_, w)| *w == 0.0) {
            return Err(crate::error::ConfigError::invalid(
                "saliency.loss",
                "every weight is 0: nothing to learn",
            ));
        }
        Ok(())
    }

    /// Whether the weighted sum can go below 0: −NSS does (every other term is ≥ 0).
    pub fn can_be_negative(&self) -> bool {
        self.nss != 0.0
    }

    /// Whether a term needs the ground-truth densities (`nll` alone needs only fixations).
    pub fn needs_density(&self) -> bool {
        [self.tv, self.kld, self.cc, self.mse]
            .iter()
            .any(|&w| w != 0.0)
    }

    /// The weighted sum; terms with weight 0 are not computed. `log_density`: the model's own
    /// (on the grid of `targets.grid_fixations`), if it has one.
    pub fn forward(
        &self,
        prediction: Tensor<4>,
        log_density: Option<Tensor<4>>,
        targets: SaliencyTargets,
    ) -> Tensor<1> {
        let device = prediction.device();
        let mut total = Tensor::<1>::zeros([1], &device);
        type Term = (f32, fn(Tensor<4>, Tensor<4>) -> Tensor<1>, bool);
        let terms: [Term; 5] = [
            (self.tv, tv, false),
            (self.kld, kld, false),
            (self.cc, cc, false),
            (self.nss, nss, true),
            (self.mse, mse, false),
        ];
        for (weight, loss, uses_fixations) in terms {
            if weight != 0.0 {
                let target = if uses_fixations {
                    targets.fixations.clone()
                } else {
                    targets.density.clone()
                };
                total = total + loss(prediction.clone(), target) * weight;
            }
        }
        if self.nll != 0.0 {
            let term = match (log_density, targets.grid_fixations) {
                (Some(log_density), Some(counts)) => nll(log_density, counts),
                _ => nll(log_of_distribution(prediction), targets.fixations),
            };
            total = total + term * self.nll;
        }
        total
    }
}
