//! Weight files: reading PyTorch checkpoints (zip and legacy pickle, through burn's
//! `pytorch-reader`) and safetensors (the `safetensors` crate), renaming upstream tensors to
//! module paths with a [`NameTable`], checking every name and shape, and moving tensors into and
//! out of a burn module.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, View};

use crate::ModelError;
use crate::layers::ConvNorm;

/// A named float tensor in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Tensors by name, sorted.
pub type TensorMap = BTreeMap<String, NamedTensor>;

/// Precision of a written safetensors file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredPrecision {
    F32,
    F16,
}

fn floats_from_bytes(bytes: &[u8], convert: impl Fn([u8; 2]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| convert([b[0], b[1]]))
        .collect()
}

/// Decodes little-endian floats of the given width into f32.
fn decode(bytes: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("chunk of 8")) as f32)
            .collect(),
        Dtype::F16 => floats_from_bytes(bytes, |b| half::f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => floats_from_bytes(bytes, |b| half::bf16::from_le_bytes(b).to_f32()),
        _ => return None,
    })
}

/// Reads every float tensor of a checkpoint: `.safetensors`, or a PyTorch `.pth`/`.pt` in any
/// container `torch.save` has written (zip since 1.6, the legacy pickle stream before). Integer
/// tensors (BatchNorm's `num_batches_tracked`) are left out; a `module.` prefix (DataParallel)
/// is removed.
pub fn read_checkpoint(path: &Path) -> Result<TensorMap, ModelError> {
    let metadata = std::fs::metadata(path).map_err(|e| ModelError::io(path, e))?;
    if metadata.len() == 0 {
        return Err(ModelError::EmptyFile { path: path.into() });
    }
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let mut map = if is_safetensors {
        read_safetensors(path)?
    } else {
        read_pytorch(path)?
    };
    if !map.is_empty() && map.keys().all(|k| k.starts_with("module.")) {
        map = map
            .into_iter()
            .map(|(k, v)| (k["module.".len()..].to_string(), v))
            .collect();
    }
    if map.is_empty() {
        return Err(ModelError::NoFloatTensors { path: path.into() });
    }
    Ok(map)
}

fn read_pytorch(path: &Path) -> Result<TensorMap, ModelError> {
    use pytorch_reader::DType as T;
    let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| ModelError::NotPytorch {
        path: path.into(),
        cause: e.to_string(),
    })?;
    let mut map = TensorMap::new();
    for (name, tensor) in reader.into_tensors() {
        let dtype = match tensor.dtype() {
            T::F32 => Dtype::F32,
            T::F64 => Dtype::F64,
            T::F16 => Dtype::F16,
            T::BF16 => Dtype::BF16,
            _ => continue,
        };
        let shape = tensor.shape().to_vec();
        let bytes = tensor.read().map_err(|e| ModelError::UnreadableTensor {
            path: path.into(),
            name: name.clone(),
            cause: e.to_string(),
        })?;
        let data = decode(&bytes, dtype).expect("float dtype");
        map.insert(name, NamedTensor { shape, data });
    }
    Ok(map)
}

/// Reads a safetensors file (F32, F64, F16 or BF16 tensors).
pub fn read_safetensors(path: &Path) -> Result<TensorMap, ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let (map, _) = parse_safetensors(&bytes, path)?;
    Ok(map)
}

/// Tensors and the `__metadata__` strings of a safetensors buffer.
fn parse_safetensors(
    bytes: &[u8],
    path: &Path,
) -> Result<(TensorMap, HashMap<String, String>), ModelError> {
    let (_, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|cause| ModelError::NotSafetensors {
            path: path.into(),
            cause,
        })?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|cause| ModelError::NotSafetensors {
        path: path.into(),
        cause,
    })?;
    let mut map = TensorMap::new();
    for (name, view) in tensors.tensors() {
        let data = decode(view.data(), view.dtype()).ok_or_else(|| ModelError::NotFloat {
            path: path.into(),
            name: name.clone(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        map.insert(
            name,
            NamedTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok((map, metadata.metadata().clone().unwrap_or_default()))
}

struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes `map` as safetensors, atomically: a temporary file in the same folder, synced, then
/// renamed over `path`, so a failure never leaves a half-written file where a good one was.
pub fn write_safetensors(
    path: &Path,
    map: &TensorMap,
    precision: StoredPrecision,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), ModelError> {
    let encoded: Vec<(String, Encoded)> = map
        .iter()
        .map(|(name, t)| {
            let (dtype, bytes) = match precision {
                StoredPrecision::F32 => (
                    Dtype::F32,
                    t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ),
                StoredPrecision::F16 => (
                    Dtype::F16,
                    t.data
                        .iter()
                        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                        .collect(),
                ),
            };
            let shape = t.shape.clone();
            (
                name.clone(),
                Encoded {
                    dtype,
                    shape,
                    bytes,
                },
            )
        })
        .collect();
    let bytes = safetensors::serialize(encoded.iter().map(|(n, e)| (n.as_str(), e)), metadata)
        .map_err(|cause| ModelError::Encode {
            path: path.into(),
            cause,
        })?;
    absnet_fs::write_atomically(path, &bytes).map_err(|e| ModelError::io(path, e))
}

/// Upstream tensor name → module path, built by each architecture from its own structure.
#[derive(Clone, Debug, Default)]
pub struct NameTable {
    prefix: String,
    entries: Vec<(String, String)>,
}

const BATCH_NORM_TENSORS: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

impl NameTable {
    /// A table whose module paths all start with `prefix` (empty for a bare backbone).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            entries: Vec::new(),
        }
    }

    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    pub fn tensor(&mut self, upstream: &str, ours: &str) {
        let path = if self.prefix.is_empty() {
            ours.to_string()
        } else {
            format!("{}.{ours}", self.prefix)
        };
        self.entries.push((upstream.to_string(), path));
    }

    /// A convolution (`weight`, `bias` when it has one) and its BatchNorm, if any.
    pub fn conv_norm(
        &mut self,
        upstream_conv: &str,
        upstream_norm: &str,
        ours: &str,
        layer: &ConvNorm,
    ) {
        self.tensor(
            &format!("{upstream_conv}.weight"),
            &format!("{ours}.conv.weight"),
        );
        if layer.conv.bias.is_some() {
            self.tensor(
                &format!("{upstream_conv}.bias"),
                &format!("{ours}.conv.bias"),
            );
        }
        if layer.norm.is_some() {
            for t in BATCH_NORM_TENSORS {
                self.tensor(&format!("{upstream_norm}.{t}"), &format!("{ours}.norm.{t}"));
            }
        }
    }

    pub fn linear(&mut self, upstream: &str, ours: &str) {
        for t in ["weight", "bias"] {
            self.tensor(&format!("{upstream}.{t}"), &format!("{ours}.{t}"));
        }
    }

    /// Renames `source` to module paths, checking it against `expected` (path → shape). Entries
    /// whose path the module does not have (an ImageNet classifier the model was built without)
    /// are dropped. Any missing, unexpected or mis-shaped tensor fails with one report listing
    /// them all.
    pub fn apply(
        &self,
        source: TensorMap,
        expected: &BTreeMap<String, Vec<usize>>,
        path: &Path,
        arch: &str,
    ) -> Result<TensorMap, ModelError> {
        let mut source = source;
        let mut out = TensorMap::new();
        let mut mismatch = Mismatch::default();
        for (upstream, ours) in &self.entries {
            let tensor = source.remove(upstream);
            let Some(want) = expected.get(ours) else {
                continue;
            };
            match tensor {
                None => mismatch.missing.push((upstream.clone(), want.clone())),
                Some(t) if &t.shape != want => {
                    mismatch
                        .misshaped
                        .push((upstream.clone(), want.clone(), t.shape.clone()))
                }
                Some(t) => {
                    out.insert(ours.clone(), t);
                }
            }
        }
        mismatch.unexpected = source.into_iter().map(|(n, t)| (n, t.shape)).collect();
        mismatch.into_result(path, arch)?;
        Ok(out)
    }
}

/// Differences between a weight file and a module.
#[derive(Default)]
struct Mismatch {
    missing: Vec<(String, Vec<usize>)>,
    unexpected: Vec<(String, Vec<usize>)>,
    misshaped: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl Mismatch {
    fn into_result(self, path: &Path, arch: &str) -> Result<(), ModelError> {
        if self.missing.is_empty() && self.unexpected.is_empty() && self.misshaped.is_empty() {
            return Ok(());
        }
        // Long lists are cut: a file of the wrong architecture differs in every tensor.
        const SHOWN: usize = 12;
        let mut report = String::new();
        let more = |report: &mut String, total: usize| {
            if total > SHOWN {
                let _ = writeln!(report, "  ... and {} more", total - SHOWN);
            }
        };
        for (name, want, found) in self.misshaped.iter().take(SHOWN) {
            let _ = writeln!(
                report,
                "  wrong shape: {name}: expected {want:?}, found {found:?}"
            );
        }
        more(&mut report, self.misshaped.len());
        for (name, want) in self.missing.iter().take(SHOWN) {
            let _ = writeln!(report, "  missing:     {name}: expected {want:?}");
        }
        more(&mut report, self.missing.len());
        for (name, found) in self.unexpected.iter().take(SHOWN) {
            let _ = writeln!(report, "  unexpected:  {name}: found {found:?}");
        }
        more(&mut report, self.unexpected.len());
        let _ = write!(
            report,
            "  ({} wrong shape, {} missing, {} unexpected)",
            self.misshaped.len(),
            self.missing.len(),
            self.unexpected.len()
        );
        Err(ModelError::Mismatch {
            path: path.to_path_buf(),
            arch: arch.to_string(),
            report,
        })
    }
}

/// Tracks the module path during a visit or a map. Enum variants (the backbone's architecture)
/// are not part of the path: a backbone's tensors are named the same whichever it is.
#[derive(Default)]
struct PathStack(Vec<Option<String>>);

impl PathStack {
    fn enter(&mut self, name: &str, container: &str) {
        let part = (!container.starts_with("Enum:")).then(|| name.to_string());
        self.0.push(part);
    }
    fn exit(&mut self) {
        self.0.pop();
    }
    fn current(&self) -> String {
        let parts: Vec<&str> = self.0.iter().flatten().map(String::as_str).collect();
        parts.join(".")
    }
}

struct ShapeCollector {
    path: PathStack,
    shapes: BTreeMap<String, Vec<usize>>,
}

impl ModuleVisitor for ShapeCollector {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name, container);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.shapes
            .insert(self.path.current(), param.lazy_shape().to_vec());
    }
}

/// Path → shape of every float parameter of `module`, without materialising lazy parameters.
pub fn parameter_shapes<M: Module>(module: &M) -> BTreeMap<String, Vec<usize>> {
    let mut collector = ShapeCollector {
        path: PathStack::default(),
        shapes: BTreeMap::new(),
    };
    module.visit(&mut collector);
    collector.shapes
}

struct TensorCollector {
    path: PathStack,
    tensors: TensorMap,
}

impl ModuleVisitor for TensorCollector {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name, container);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        let tensor = NamedTensor {
            shape: data.shape().to_vec(),
            data: data.try_into_vec::<f32>().expect("converted to f32"),
        };
        self.tensors.insert(self.path.current(), tensor);
    }
}

/// Every float parameter of `module`, by path.
pub fn module_tensors<M: Module>(module: &M) -> TensorMap {
    let mut collector = TensorCollector {
        path: PathStack::default(),
        tensors: TensorMap::new(),
    };
    module.visit(&mut collector);
    collector.tensors
}

struct TensorLoader {
    path: PathStack,
    tensors: TensorMap,
}

impl ModuleMapper for TensorLoader {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name, container);
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.exit();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(t) = self.tensors.remove(&self.path.current()) else {
            return param;
        };
        let device = param.lazy_device();
        let tensor = Tensor::<D>::from_data(TensorData::new(t.data, t.shape), &device);
        let id = param.id;
        param.transform_for_load(tensor, id)
    }
}

/// Loads `tensors` (module path → tensor) into `module`. The names and shapes must match the
/// module's parameters exactly; otherwise nothing is loaded and the error lists every difference.
pub fn load_tensors<M: Module>(
    module: M,
    tensors: TensorMap,
    path: &Path,
    arch: &str,
) -> Result<M, ModelError> {
    let expected = parameter_shapes(&module);
    let mut mismatch = Mismatch::default();
    for (name, want) in &expected {
        match tensors.get(name) {
            None => mismatch.missing.push((name.clone(), want.clone())),
            Some(t) if &t.shape != want => {
                mismatch
                    .misshaped
                    .push((name.clone(), want.clone(), t.shape.clone()))
            }
            Some(_) => {}
        }
    }
    let known: BTreeSet<&String> = expected.keys().collect();
    mismatch.unexpected = tensors
        .iter()
        .filter(|(n, _)| !known.contains(n))
        .map(|(n, t)| (n.clone(), t.shape.clone()))
        .collect();
    mismatch.into_result(path, arch)?;
    // A NaN or infinite weight turns every prediction into NaN (an all-black map, no peaks).
    if let Some((name, value)) = tensors
        .iter()
        .find_map(|(name, t)| t.data.iter().find(|v| !v.is_finite()).map(|v| (name, v)))
    {
        return Err(ModelError::NonFinite {
            path: path.into(),
            name: name.clone(),
            value: *value,
        });
    }
    let mut loader = TensorLoader {
        path: PathStack::default(),
        tensors,
    };
    Ok(module.map(&mut loader))
}

/// Reads a safetensors file already in memory together with its `__metadata__`; `name` is
/// what errors call it.
pub fn parse_safetensors_with_metadata(
    bytes: &[u8],
    name: &Path,
) -> Result<(TensorMap, HashMap<String, String>), ModelError> {
    parse_safetensors(bytes, name)
}
