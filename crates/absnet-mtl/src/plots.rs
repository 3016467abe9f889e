//! Training curves as a PNG, drawn from a run's `log.jsonl`: each task's loss (a running mean
//! over 20 steps), the balancing weights, the validation scores per epoch, and — when two tasks
//! share a trained encoder — the cosine of their shared-encoder gradients.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::log::{self, LogRecord};

/// Why the curves could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: {message}")]
    File {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("drawing the curves: {0}")]
    Draw(String),
}

fn draw(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// DejaVu Sans Mono (Bitstream Vera licence, `assets/fonts/`): text needs a font, and the system's
/// may not exist.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");

type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// The curves of a log: loss per task, weight per task, validation score per metric, and the
/// shared-gradient cosine (losses and cosine as running means over 20 steps).
struct Curves {
    losses: Series,
    weights: Series,
    validation: Series,
    cosine: Series,
}

fn curves(records: &[LogRecord]) -> Curves {
    let (mut losses, mut weights, mut validation) = (Series::new(), Series::new(), Series::new());
    let mut cosine = Series::new();
    for record in records {
        match record {
            LogRecord::Step {
                step,
                losses: l,
                weights: w,
                gradient_cosine,
                ..
            } => {
                if let Some(c) = gradient_cosine {
                    cosine
                        .entry("cosine".to_string())
                        .or_default()
                        .push((*step as f64, *c));
                }
                for (values, series) in [(l, &mut losses), (w, &mut weights)] {
                    for (task, &v) in values {
                        series
                            .entry(task.to_string())
                            .or_default()
                            .push((*step as f64, v));
                    }
                }
            }
            LogRecord::Epoch {
                epoch,
                validation: v,
                ..
            } => {
                for (task, scores) in v {
                    for (metric, &value) in scores {
                        validation
                            .entry(format!("{task} {metric}"))
                            .or_default()
                            .push((*epoch as f64 + 1.0, value));
                    }
                }
            }
            _ => {}
        }
    }
    for series in losses.values_mut().chain(cosine.values_mut()) {
        *series = running_mean(series, 20);
    }
    Curves {
        losses,
        weights,
        validation,
        cosine,
    }
}

fn running_mean(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            let from = (i + 1).saturating_sub(window);
            let part = &points[from..=i];
            (
                points[i].0,
                part.iter().map(|p| p.1).sum::<f64>() / part.len() as f64,
            )
        })
        .collect()
}

fn bounds(series: &Series) -> Option<((f64, f64), (f64, f64))> {
    let points: Vec<&(f64, f64)> = series
        .values()
        .flatten()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if points.is_empty() {
        return None;
    }
    let fold = |f: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points
            .iter()
            .map(|p| f(p))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad, hi + pad)
    };
    Some((fold(|p| p.0), fold(|p| p.1)))
}

fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    series: &Series,
) -> Result<(), PlotError> {
    let Some(((x0, x1), (y0, y1))) = bounds(series) else {
        return Ok(());
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(draw)?;
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(draw)?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw)
}

/// Draws `log`'s curves into `png`, 500 × 450 a panel: losses, weights, and where the run has
/// them validation and the gradient cosine; written to a temporary file first and renamed.
pub fn write_training_curves(log: &Path, png: &Path) -> Result<(), PlotError> {
    let file = |path: &Path, e: &dyn std::fmt::Display| PlotError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let text = std::fs::read_to_string(log).map_err(|e| file(log, &e))?;
    let curves = curves(&log::read(&text));
    // Registering twice is harmless: the font is replaced by itself.
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| draw("the bundled font does not load"))?;
    let tmp = png.with_extension("tmp.png");
    {
        // Validation and the gradient cosine only where the run has them (no validation part;
        // fewer than two tasks sharing an encoder).
        let panels: Vec<(&str, &str, &Series)> = [
            ("training loss (mean of 20 steps)", "step", &curves.losses),
            ("task weights", "step", &curves.weights),
            ("validation", "epoch", &curves.validation),
            (
                "shared-gradient cosine (mean of 20 steps)",
                "step",
                &curves.cosine,
            ),
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, (_, _, series))| *i < 2 || !series.is_empty())
        .map(|(_, panel)| panel)
        .collect();
        let root = BitMapBackend::new(&tmp, (500 * panels.len() as u32, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(draw)?;
        let areas = root.split_evenly((1, panels.len()));
        for (area, (title, x_label, series)) in areas.iter().zip(panels) {
            panel(area, title, x_label, series)?;
        }
        root.present().map_err(|e| file(&tmp, &e))?;
    }
    std::fs::rename(&tmp, png).map_err(|e| file(png, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_becomes_curves() {
        let lr = r#""lr":{"shared":0.1,"balancing":0.0,"saliency":1.0}"#;
        let log = [
            format!(r#"{{"record":"step","epoch":0,"step":1,"losses":{{"saliency":2.0}},"weights":{{"saliency":1.0}},{lr}}}"#),
            format!(r#"{{"record":"step","epoch":0,"step":2,"losses":{{"aesthetics":0.5}},"weights":{{"aesthetics":1.0}},{lr}}}"#),
            format!(r#"{{"record":"step","epoch":0,"step":3,"losses":{{"saliency":1.0}},"weights":{{"saliency":0.8}},{lr},"gradient_cosine":-0.25}}"#),
            r#"{"record":"epoch","epoch":0,"step":3,"validation":{"saliency":{"cc":0.3,"nss":1.0}},"skipped":0,"mean_losses":{"saliency":1.5},"task_weights":{"saliency":1.0}}"#.to_string(),
            r#"{"record":"step","epoch":0,"step":4,"los"#.to_string(),
        ]
        .join("\n");
        let Curves {
            losses,
            weights,
            validation,
            cosine,
        } = curves(&log::read(&log));
        assert_eq!(losses["saliency"], vec![(1.0, 2.0), (3.0, 1.5)]);
        assert_eq!(weights["saliency"], vec![(1.0, 1.0), (3.0, 0.8)]);
        assert_eq!(cosine["cosine"], vec![(3.0, -0.25)]);
        assert_eq!(validation["saliency cc"], vec![(1.0, 0.3)]);
        let dir = absnet_testkit::temp_folder("plot");
        std::fs::write(dir.join("log.jsonl"), log).unwrap();
        write_training_curves(&dir.join("log.jsonl"), &dir.join("curves.png")).unwrap();
        let png = image::open(dir.join("curves.png")).unwrap();
        assert_eq!((png.width(), png.height()), (2000, 450));
    }
}
