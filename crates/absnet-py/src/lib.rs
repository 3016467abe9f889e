//! `absnet._absnet`: the native side of the Python package. Thin: arrays and paths in, the
//! libraries' calls, arrays and dicts out; the GIL is released while the model or a metric runs,
//! so Python threads compute in parallel. Argument
//! checks that name the argument live in `python/absnet/`; errors here carry the CLI's messages.

use std::path::PathBuf;

use absnet_data::pipeline::{self, DEFAULT_MAX_PIXELS};
use absnet_metrics::saliency::{
    self, AucJuddOptions, KldVariant, NssOptions, RocThresholds, SimVariant, SplitRoc,
};
use absnet_metrics::{Duplicates, Fixation, rating};
use absnet_predict::crop::{self, Aspect, CropOptions};
use absnet_predict::{ModelChoice, Prediction, Predictor, PredictorOptions};
use burn::tensor::Device;
use image::RgbImage;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A model ready to predict: a built-in one (`fast`, `accurate`), or a model file; its quality
/// scores from another model (`quality`, built in, or a file) where one is named.
#[pyclass(module = "absnet._absnet", frozen)]
struct Model {
    predictor: Predictor,
}

/// An image argument: a path, an encoded file's bytes, or RGB8 pixels (`height × width × 3`).
enum Image {
    Path(PathBuf),
    Encoded(Vec<u8>),
    Pixels(RgbImage),
}

impl Image {
    fn rgb(self) -> PyResult<RgbImage> {
        match self {
            Image::Path(path) => {
                pipeline::decode_file(&path, DEFAULT_MAX_PIXELS).map_err(value_error)
            }
            Image::Encoded(bytes) => pipeline::decode_bytes(
                &bytes,
                std::path::Path::new("image bytes"),
                DEFAULT_MAX_PIXELS,
            )
            .map_err(value_error),
            Image::Pixels(pixels) => Ok(pixels),
        }
    }
}

/// Reads `image` as the Python layer hands it over: a path string, or a C-contiguous uint8
/// array of shape `(height, width, 3)`.
fn image(image: &Bound<'_, PyAny>) -> PyResult<Image> {
    if let Ok(bytes) = image.cast::<pyo3::types::PyBytes>() {
        return Ok(Image::Encoded(bytes.as_bytes().to_vec()));
    }
    if let Ok(path) = image.extract::<PathBuf>() {
        return Ok(Image::Path(path));
    }
    let pixels: PyReadonlyArray3<u8> = image.extract().map_err(|_| {
        value_error("image: expected a path or a uint8 array of shape (height, width, 3)")
    })?;
    let view = pixels.as_array();
    let (height, width, channels) = view.dim();
    if channels != 3 || height == 0 || width == 0 {
        return Err(value_error(format!(
            "image: shape ({height}, {width}, {channels}); expected (height, width, 3)"
        )));
    }
    let raw: Vec<u8> = view.iter().copied().collect();
    let rgb =
        RgbImage::from_raw(width as u32, height as u32, raw).expect("height × width × 3 bytes");
    Ok(Image::Pixels(rgb))
}

fn map_array<'py>(py: Python<'py>, prediction: &Prediction) -> Bound<'py, PyArray2<f32>> {
    let shape = (prediction.height() as usize, prediction.width() as usize);
    ndarray::Array2::from_shape_vec(shape, prediction.saliency.as_raw().clone())
        .expect("h × w")
        .into_pyarray(py)
}

#[pymethods]
impl Model {
    /// The model `path` names — `fast` (the default) or `accurate`, both built in, or a model
    /// file; `size` is the input (width, height)
    /// (default: the model's), `fit` how photos are fitted to it (`resize` or `letterbox`),
    /// `flip_average` whether each photo's prediction is averaged with its mirror image's
    /// (default: as the model's card says), `quality_model` a model whose quality head scores
    /// picture quality instead of this one's (`quality`, built in, or a model file).
    #[new]
    #[pyo3(signature = (path=None, size=None, fit="resize", flip_average=None, quality_model=None))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        size: Option<(u32, u32)>,
        fit: &str,
        flip_average: Option<bool>,
        quality_model: Option<PathBuf>,
    ) -> PyResult<Self> {
        let options = PredictorOptions {
            size: size.map(|(w, h)| [w, h]),
            fit: fit.parse().map_err(value_error)?,
            flip_average,
            quality_model: quality_model.map(ModelChoice::from),
            ..PredictorOptions::default()
        };
        let device = Device::flex();
        let choice = path.map_or_else(ModelChoice::default, ModelChoice::from);
        let predictor = py.detach(|| Predictor::load(&choice, &options, &device));
        Ok(Self {
            predictor: predictor.map_err(value_error)?,
        })
    }

    /// The model file's name.
    #[getter]
    fn name(&self) -> String {
        self.predictor.path().display().to_string()
    }

    /// The input (width, height) photos are fitted to.
    #[getter]
    fn input_size(&self) -> (u32, u32) {
        let [w, h] = self.predictor.input_size();
        (w, h)
    }

    /// Whether the model has a trained aesthetics head.
    #[getter]
    fn has_aesthetics(&self) -> bool {
        self.predictor.has_aesthetics()
    }

    /// Whether the model (or the quality model) has a trained quality head.
    #[getter]
    fn has_quality(&self) -> bool {
        self.predictor.has_quality()
    }

    /// The model that scores picture quality when it is not this one, else `None`.
    #[getter]
    fn quality_model(&self) -> Option<String> {
        self.predictor
            .quality_model()
            .map(|path| path.display().to_string())
    }

    /// The saliency maps of `images` (paths or uint8 arrays), float32 at each image's size, from
    /// one batched forward pass.
    fn predict_batch<'py>(
        &self,
        py: Python<'py>,
        images: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Bound<'py, PyArray2<f32>>>> {
        let images: Vec<Image> = images.iter().map(image).collect::<PyResult<_>>()?;
        let predictions = py.detach(|| -> PyResult<Vec<Prediction>> {
            let photos: Vec<RgbImage> = images
                .into_iter()
                .map(Image::rgb)
                .collect::<PyResult<_>>()?;
            Ok(self
                .predictor
                .predict_batch(&photos.iter().collect::<Vec<_>>()))
        })?;
        Ok(predictions.iter().map(|p| map_array(py, p)).collect())
    }

    /// The saliency map's natural log as a density over the pixels (summing to 1), float64.
    fn log_density<'py>(
        &self,
        py: Python<'py>,
        image: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let prediction = self.predict_one(py, &image)?;
        let shape = (prediction.height() as usize, prediction.width() as usize);
        let logs: Vec<f64> = prediction.density().into_iter().map(f64::ln).collect();
        Ok(ndarray::Array2::from_shape_vec(shape, logs)
            .expect("h × w")
            .into_pyarray(py))
    }

    /// The score distribution (`distribution`, `mean`, `std`) of `image`; an error when the model
    /// has no trained aesthetics head.
    fn aesthetics<'py>(
        &self,
        py: Python<'py>,
        image: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        if !self.predictor.has_aesthetics() {
            return Err(PyRuntimeError::new_err(format!(
                "{} has no trained aesthetics head, so it gives no aesthetic scores (train one with an [aesthetics] task on AVA)",
                self.name()
            )));
        }
        let prediction = self.predict_one(py, &image)?;
        let scores = prediction.aesthetics.expect("checked: a trained head");
        let dict = PyDict::new(py);
        dict.set_item("distribution", scores.distribution)?;
        dict.set_item("mean", scores.mean)?;
        dict.set_item("std", scores.std)?;
        Ok(dict)
    }

    /// The picture-quality score (`score` on 0–100, `distribution` over its ten bins) of `image`,
    /// from the encoder and the quality head alone; an error when the model has no trained
    /// quality head.
    fn quality<'py>(
        &self,
        py: Python<'py>,
        image: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        if !self.predictor.has_quality() {
            return Err(PyRuntimeError::new_err(format!(
                "{} has no trained quality head, so it gives no quality score (train one with a [quality] task on LIVE-C)",
                self.name()
            )));
        }
        let image = self::image(&image)?;
        let quality = py.detach(|| -> PyResult<_> {
            let photo = image.rgb()?;
            let mut scores = self
                .predictor
                .quality_batch(&[&photo])
                .map_err(value_error)?;
            Ok(scores.pop().expect("one score per photo"))
        })?;
        let dict = PyDict::new(py);
        dict.set_item("score", quality.score)?;
        dict.set_item("distribution", quality.distribution)?;
        Ok(dict)
    }
}

impl Model {
    /// The prediction for one image, the GIL released while the model runs.
    fn predict_one(&self, py: Python<'_>, image: &Bound<'_, PyAny>) -> PyResult<Prediction> {
        let image = self::image(image)?;
        py.detach(|| image.rgb().map(|photo| self.predictor.predict(&photo)))
    }
}

fn fixations(xs: Vec<f64>, ys: Vec<f64>) -> PyResult<Vec<Fixation>> {
    if xs.len() != ys.len() {
        return Err(value_error(format!(
            "xs and ys: {} and {} values; expected as many",
            xs.len(),
            ys.len()
        )));
    }
    Ok(xs
        .into_iter()
        .zip(ys)
        .map(|(x, y)| Fixation::new(x, y))
        .collect())
}

fn duplicates(name: &str) -> PyResult<Duplicates> {
    match name {
        "keep" => Ok(Duplicates::Keep),
        "collapse" => Ok(Duplicates::Collapse),
        other => Err(value_error(format!(
            "duplicates = `{other}`: expected keep or collapse"
        ))),
    }
}

/// A metric of two maps (`variant`: which benchmark's definition), run without the GIL.
fn map_pair<V: Send>(
    py: Python<'_>,
    a: PyReadonlyArray2<f64>,
    b: PyReadonlyArray2<f64>,
    variant: V,
    metric: impl FnOnce(
        ndarray::ArrayView2<f64>,
        ndarray::ArrayView2<f64>,
        V,
    ) -> Result<f64, absnet_metrics::MetricError>
    + Send,
) -> PyResult<f64> {
    let (a, b) = (a.as_array(), b.as_array());
    py.detach(|| metric(a, b, variant)).map_err(value_error)
}

#[pyfunction]
fn nss(
    py: Python<'_>,
    saliency_map: PyReadonlyArray2<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    mit: bool,
) -> PyResult<f64> {
    let options = if mit {
        NssOptions::MIT
    } else {
        NssOptions::PYSALIENCY
    };
    let (map, fixations) = (saliency_map.as_array(), fixations(xs, ys)?);
    py.detach(|| saliency::nss(map, &fixations, options))
        .map_err(value_error)
}

#[pyfunction]
fn cc(
    py: Python<'_>,
    saliency_map_1: PyReadonlyArray2<f64>,
    saliency_map_2: PyReadonlyArray2<f64>,
) -> PyResult<f64> {
    map_pair(py, saliency_map_1, saliency_map_2, (), |a, b, ()| {
        saliency::cc(a, b)
    })
}

#[pyfunction]
fn kld(
    py: Python<'_>,
    saliency_map_1: PyReadonlyArray2<f64>,
    saliency_map_2: PyReadonlyArray2<f64>,
    mit: bool,
) -> PyResult<f64> {
    let variant = if mit {
        KldVariant::Mit
    } else {
        KldVariant::Pysaliency
    };
    map_pair(py, saliency_map_1, saliency_map_2, variant, saliency::kld)
}

#[pyfunction]
fn sim(
    py: Python<'_>,
    saliency_map_1: PyReadonlyArray2<f64>,
    saliency_map_2: PyReadonlyArray2<f64>,
    mit: bool,
) -> PyResult<f64> {
    let variant = if mit {
        SimVariant::Mit
    } else {
        SimVariant::Pysaliency
    };
    map_pair(py, saliency_map_1, saliency_map_2, variant, saliency::sim)
}

#[pyfunction]
fn auc_judd(
    py: Python<'_>,
    saliency_map: PyReadonlyArray2<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    duplicates: &str,
) -> PyResult<f64> {
    let options = AucJuddOptions {
        jitter: None,
        duplicates: self::duplicates(duplicates)?,
    };
    let (map, fixations) = (saliency_map.as_array(), fixations(xs, ys)?);
    py.detach(|| saliency::auc_judd(map, &fixations, options))
        .map_err(value_error)
}

/// The split ROC of AUC-Borji and shuffled AUC, fixations collapsed per pixel as both
/// benchmarks do.
fn split_roc(splits: usize, step: f64, seed: u64) -> SplitRoc {
    SplitRoc {
        splits,
        step,
        seed,
        duplicates: Duplicates::Collapse,
    }
}

#[pyfunction]
fn auc_borji(
    py: Python<'_>,
    saliency_map: PyReadonlyArray2<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    splits: usize,
    step: f64,
    seed: u64,
) -> PyResult<f64> {
    let options = split_roc(splits, step, seed);
    let (map, fixations) = (saliency_map.as_array(), fixations(xs, ys)?);
    py.detach(|| saliency::auc_borji(map, &fixations, &options))
        .map_err(value_error)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn auc_shuffled(
    py: Python<'_>,
    saliency_map: PyReadonlyArray2<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    other_xs: Vec<f64>,
    other_ys: Vec<f64>,
    splits: usize,
    step: f64,
    seed: u64,
) -> PyResult<f64> {
    let options = split_roc(splits, step, seed);
    let (map, positives, others) = (
        saliency_map.as_array(),
        fixations(xs, ys)?,
        fixations(other_xs, other_ys)?,
    );
    py.detach(|| saliency::auc_shuffled(map, &positives, &others, &options))
        .map_err(value_error)
}

#[pyfunction]
fn roc_auc(py: Python<'_>, positives: Vec<f64>, negatives: Vec<f64>) -> PyResult<f64> {
    py.detach(|| saliency::roc_auc(&positives, &negatives, RocThresholds::All))
        .map_err(value_error)
}

#[pyfunction]
fn information_gain(
    py: Python<'_>,
    saliency_map: PyReadonlyArray2<f64>,
    baseline_map: PyReadonlyArray2<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
    duplicates: &str,
) -> PyResult<f64> {
    let duplicates = self::duplicates(duplicates)?;
    let (map, baseline, fixations) = (
        saliency_map.as_array(),
        baseline_map.as_array(),
        fixations(xs, ys)?,
    );
    py.detach(|| saliency::information_gain(map, baseline, &fixations, duplicates))
        .map_err(value_error)
}

#[pyfunction]
fn emd(predicted: Vec<f64>, target: Vec<f64>, r: u32) -> PyResult<f64> {
    rating::emd(&predicted, &target, r).map_err(value_error)
}

#[pyfunction]
fn mean_score(distribution: Vec<f64>) -> PyResult<f64> {
    rating::mean_score(&distribution).map_err(value_error)
}

#[pyfunction]
fn score_std(distribution: Vec<f64>) -> PyResult<f64> {
    rating::score_std(&distribution).map_err(value_error)
}

#[pyfunction]
fn srcc(a: Vec<f64>, b: Vec<f64>) -> PyResult<f64> {
    rating::srcc(&a, &b).map_err(value_error)
}

#[pyfunction]
fn plcc(a: Vec<f64>, b: Vec<f64>) -> PyResult<f64> {
    rating::plcc(&a, &b).map_err(value_error)
}

#[pyfunction]
fn krcc(a: Vec<f64>, b: Vec<f64>) -> PyResult<f64> {
    rating::krcc(&a, &b).map_err(value_error)
}

#[pyfunction]
fn plcc_logistic(predicted: Vec<f64>, target: Vec<f64>) -> PyResult<f64> {
    rating::plcc_logistic(&predicted, &target).map_err(value_error)
}

#[pyfunction]
fn rmse(a: Vec<f64>, b: Vec<f64>) -> PyResult<f64> {
    rating::rmse(&a, &b).map_err(value_error)
}

#[pyfunction]
fn binary_accuracy(predicted: Vec<f64>, target: Vec<f64>, threshold: f64) -> PyResult<f64> {
    rating::binary_accuracy(&predicted, &target, threshold).map_err(value_error)
}

/// The ground-truth density of fixations `(xs, ys)` in a `width × height` map: a Gaussian of
/// `sigma` pixels (scipy's `gaussian_filter(counts, sigma, mode=…, truncate=4)`), not normalised.
#[pyfunction]
fn density_map<'py>(
    py: Python<'py>,
    width: usize,
    height: usize,
    xs: Vec<f64>,
    ys: Vec<f64>,
    sigma: f64,
    reflect: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    use absnet_data::density::{self, Border};
    if xs.len() != ys.len() {
        return Err(value_error(format!(
            "xs and ys: {} and {} values; expected as many",
            xs.len(),
            ys.len()
        )));
    }
    let border = if reflect {
        Border::Reflect
    } else {
        Border::Zero
    };
    let map = py
        .detach(|| density::density_map(width, height, xs.into_iter().zip(ys), sigma, border))
        .map_err(value_error)?;
    Ok(map.into_pyarray(py))
}

/// The crop window of `aspect` ("W:H") at `scale` for a saliency map: (x, y, width, height,
/// score).
#[pyfunction]
fn crop_window(
    saliency_map: PyReadonlyArray2<f32>,
    aspect: &str,
    scale: f64,
) -> PyResult<(u32, u32, u32, u32, f64)> {
    let view = saliency_map.as_array();
    let (height, width) = view.dim();
    let map = absnet_predict::render::FloatMap::from_raw(
        width as u32,
        height as u32,
        view.iter().copied().collect(),
    )
    .expect("h × w");
    let aspect: Aspect = aspect.parse().map_err(value_error)?;
    let chosen =
        crop::crop(&map, &[aspect], scale, &CropOptions::default()).map_err(value_error)?[0];
    let w = chosen.window;
    Ok((w.x, w.y, w.width, w.height, chosen.score))
}

#[pymodule]
fn _absnet(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Model>()?;
    for function in [
        wrap_pyfunction!(nss, module)?,
        wrap_pyfunction!(cc, module)?,
        wrap_pyfunction!(kld, module)?,
        wrap_pyfunction!(sim, module)?,
        wrap_pyfunction!(auc_judd, module)?,
        wrap_pyfunction!(auc_borji, module)?,
        wrap_pyfunction!(auc_shuffled, module)?,
        wrap_pyfunction!(roc_auc, module)?,
        wrap_pyfunction!(information_gain, module)?,
        wrap_pyfunction!(emd, module)?,
        wrap_pyfunction!(mean_score, module)?,
        wrap_pyfunction!(score_std, module)?,
        wrap_pyfunction!(srcc, module)?,
        wrap_pyfunction!(plcc, module)?,
        wrap_pyfunction!(krcc, module)?,
        wrap_pyfunction!(plcc_logistic, module)?,
        wrap_pyfunction!(rmse, module)?,
        wrap_pyfunction!(binary_accuracy, module)?,
        wrap_pyfunction!(crop_window, module)?,
        wrap_pyfunction!(density_map, module)?,
    ] {
        module.add_function(function)?;
    }
    Ok(())
}
