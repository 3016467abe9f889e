//! `absnet export`: a run's best checkpoint as a model file with its card.

use std::path::Path;

use absnet_model::heads::HeadInput;
use absnet_model::weights::StoredPrecision;
use absnet_model::{AbsNet, Head, ModelCard};
use burn::module::Module;
use burn::tensor::Device;

use crate::checkpoint::Saver;
use crate::config::TrainConfig;
use crate::error::TrainError;

/// How a run becomes a model file.
#[derive(Clone, Copy, Debug)]
pub struct ExportOptions<'a> {
    pub precision: StoredPrecision,
    /// The model predicts from each photo and its mirror image, averaged, by default.
    pub flip_average: bool,
    /// Replace a model file or card that is already there.
    pub force: bool,
    /// Put the run's trained heads onto this model (which shares the run's frozen encoder); the
    /// result averages mirror images when this model does or `flip_average` asks.
    pub onto: Option<&'a Path>,
    /// Which of the run's checkpoints becomes the model.
    pub checkpoint: Checkpoint,
}

/// The checkpoints a run keeps: its best by validation and its latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    /// The best by the first task's validation score (the latest when none was scored).
    Best,
    /// The last one written, whatever its score.
    Latest,
}

/// Puts the heads a run trained onto `base`, a model whose encoder the run kept frozen (its
/// `backbone_weights`): the result is `base` with those heads added or replaced, one encoder
/// for all. The run must have used `base`'s encoder unchanged and its input size.
fn onto_base(
    run: AbsNet,
    config: &TrainConfig,
    base_path: &Path,
    card: &mut ModelCard,
    device: &Device,
) -> Result<AbsNet, TrainError> {
    let (base, base_card) = absnet_model::card::load_model(base_path, device)?;
    let refuse = |why: String| {
        Err(TrainError::OtherEncoder {
            path: base_path.into(),
            why,
        })
    };
    if base_card.config.backbone != config.model.backbone {
        return refuse(format!(
            "its encoder is {:?}, the run's {:?}: heads move only between models of one encoder",
            base_card.config.backbone, config.model.backbone
        ));
    }
    if base_card.input != Some(config.input) {
        return refuse(format!(
            "it predicts at {:?}, the run trained at {:?}: the heads would read other features",
            base_card.input, config.input
        ));
    }
    let (ours, theirs) = (
        absnet_model::weights::module_tensors(&run.backbone),
        absnet_model::weights::module_tensors(&base.backbone),
    );
    let largest = ours
        .iter()
        .filter_map(|(name, t)| Some((t, theirs.get(name)?)))
        .flat_map(|(a, b)| a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
    if ours.len() != theirs.len() || largest > 0.0 {
        return refuse(format!(
            "the run's encoder differs from this model's (largest |Δ| {largest:e}): train with \
             backbone_weights = \"{}\" and a frozen encoder",
            base_path.display()
        ));
    }
    let trained: Vec<Head> = config.tasks().iter().map(|t| t.head).collect();
    // Only the backbone comes from the model file: a neck the run trained is not the model's.
    let inputs = config.model.heads.inputs();
    if let Some(head) = trained
        .iter()
        .find(|h| inputs.get(h).is_some_and(|i| i.contains(&HeadInput::Neck)))
    {
        return refuse(format!(
            "the run's {head} head reads its own neck, not this model's: heads that move read \
             backbone taps (`taps = [\"c2\", …]`)"
        ));
    }
    let mut heads = base_card.config.heads.clone();
    let mut model = base;
    for head in &trained {
        match head {
            Head::Saliency => {
                heads.saliency = config.model.heads.saliency.clone();
                model.saliency = run.saliency.clone();
            }
            Head::Aesthetics => {
                heads.aesthetics = config.model.heads.aesthetics.clone();
                model.aesthetics = run.aesthetics.clone();
            }
            Head::Quality => {
                heads.quality = config.model.heads.quality.clone();
                model.quality = run.quality.clone();
            }
        }
    }
    model.config.heads = heads;
    let mut merged = base_card.clone();
    merged.name = card.name.clone();
    merged.config = model.config.clone();
    for head in trained {
        merged.heads.insert(head, card.heads[&head].clone());
    }
    // Heads put onto a model do not change how it predicts: its mirror averaging stays on
    // (`--flip-average` can turn it on, not off).
    merged.flip_average = base_card.flip_average || card.flip_average;
    *card = merged;
    Ok(model)
}

/// Writes the best checkpoint of `run_dir` (the latest when none was scored, or when
/// `options.checkpoint` asks) to `output` (a `.safetensors` file; its card goes beside it as
/// `.json`); the card marks each trained head, with its data, and whether predictions average each
/// photo with its mirror image by default. A model file or card already there is refused unless
/// `options.force`.
pub fn export(
    run_dir: &Path,
    output: &Path,
    options: ExportOptions<'_>,
    device: &Device,
) -> Result<ModelCard, TrainError> {
    if output.extension().is_none_or(|e| e != "safetensors") {
        return Err(TrainError::ModelName {
            path: output.into(),
        });
    }
    let card_path = absnet_model::card::card_path(output);
    for path in [output, card_path.as_path()] {
        if path.exists() && !options.force {
            return Err(TrainError::Exists { path: path.into() });
        }
    }
    let config_path = run_dir.join("config.toml");
    let text =
        std::fs::read_to_string(&config_path).map_err(|e| TrainError::io(&config_path, e))?;
    let config = TrainConfig::from_toml(&text).map_err(|cause| TrainError::RunConfig {
        path: config_path.clone(),
        cause,
    })?;
    let saver = Saver {
        checkpoints: run_dir.join("checkpoints"),
    };
    let state = saver.read_state()?;
    let best = match options.checkpoint {
        Checkpoint::Best => state.best_dir.as_ref(),
        Checkpoint::Latest => None,
    };
    let dir = saver.checkpoints.join(best.unwrap_or(&state.dir));
    let path = dir.join("model.bpk");
    let model = AbsNet::new(&config.model, device)?
        .try_load_file(&path)
        .map_err(|e| TrainError::checkpoint(&path, e))?;
    let name = output
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let backbone = config.backbone_weights.as_ref().map_or_else(
        || "none (random initialisation)".into(),
        |p| p.display().to_string(),
    );
    let mut card = ModelCard::new(&name, config.model.clone(), &backbone);
    card.input = Some(config.input);
    card.flip_average = options.flip_average;
    let trained = format!(
        "{} of {} epochs, checkpoint {}",
        state.epoch,
        config.epochs,
        dir.display()
    );
    let chosen = match (best, state.best_score) {
        (Some(_), Some(score)) => format!(
            "validation score {score:.4} (best by the first task's selection metric: saliency CC, NSS, AUC-Judd or log-likelihood as configured; SRCC for a rating task)"
        ),
        (None, Some(_)) => "the last, as asked (not the best by validation)".to_string(),
        (_, None) => "the last: no validation part to choose by".to_string(),
    };
    for task in config.tasks() {
        if let Some(head) = card.heads.get_mut(&task.head) {
            head.trained = true;
            head.data = task
                .datasets
                .iter()
                .map(|d| format!("{d} (train part of {})", task.split.display()))
                .collect();
            head.notes = format!("{trained}, {chosen}");
        }
    }
    let model = match options.onto {
        Some(base) => onto_base(model, &config, base, &mut card, device)?,
        None => model,
    };
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    absnet_model::card::save_model(&model, &card, output, options.precision)?;
    Ok(card)
}
