//! A parameter group's gradient as one flat vector, so that balancing methods can weight, add
//! and project whole-group gradients (PCGrad's `g_i · g_j`, GradNorm's `‖g_i‖`) and hand the
//! result back to the group's optimizer, parameter by parameter.

use std::collections::HashMap;

use absnet_model::{AbsNet, Head, HeadVisitor, PerHead};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Gradients, Tensor};

/// Where one parameter's gradient lies in the flat vector.
#[derive(Clone, Debug)]
struct Span {
    start: usize,
    shape: Vec<usize>,
}

/// The gradients of a group (one or more modules) of one backward pass, flattened in the
/// modules' visiting order.
#[derive(Clone, Debug)]
pub struct GroupGradient {
    pub values: Tensor<1>,
    spans: HashMap<ParamId, Span>,
}

struct Flattener<'a> {
    grads: GradientsParams,
    parts: &'a mut Vec<Tensor<1>>,
    spans: &'a mut HashMap<ParamId, Span>,
    length: &'a mut usize,
}

impl ModuleVisitor for Flattener<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(gradient) = self.grads.remove::<D>(param.id) {
            let shape = gradient.dims().to_vec();
            let n = shape.iter().product::<usize>();
            self.parts.push(gradient.reshape([n]));
            self.spans.insert(
                param.id,
                Span {
                    start: *self.length,
                    shape,
                },
            );
            *self.length += n;
        }
    }
}

struct Unflattener<'a> {
    values: &'a Tensor<1>,
    spans: &'a HashMap<ParamId, Span>,
    grads: GradientsParams,
}

impl ModuleVisitor for Unflattener<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(span) = self.spans.get(&param.id) {
            let n = span.shape.iter().product::<usize>();
            let dims: [usize; D] = span
                .shape
                .clone()
                .try_into()
                .expect("a parameter keeps its rank");
            let part = self
                .values
                .clone()
                .slice(span.start..span.start + n)
                .reshape(dims);
            self.grads.register::<D>(param.id, part);
        }
    }
}

/// Collects the gradients of several modules of one backward pass into a [`GroupGradient`].
#[derive(Default)]
pub struct GroupGradientBuilder {
    parts: Vec<Tensor<1>>,
    spans: HashMap<ParamId, Span>,
    length: usize,
}

impl GroupGradientBuilder {
    /// Takes `module`'s parameter gradients out of `grads`.
    pub fn add<M: Module>(mut self, grads: &mut Gradients, module: &M) -> Self {
        let mut flattener = Flattener {
            grads: GradientsParams::from_module(grads, module),
            parts: &mut self.parts,
            spans: &mut self.spans,
            length: &mut self.length,
        };
        module.visit(&mut flattener);
        self
    }

    /// `None` when no parameter received a gradient.
    pub fn build(self) -> Option<GroupGradient> {
        (!self.parts.is_empty()).then(|| GroupGradient {
            values: Tensor::cat(self.parts, 0),
            spans: self.spans,
        })
    }
}

/// One backward pass's gradient of each group: the shared encoder, and each head that received
/// one.
pub struct StepGradients {
    pub shared: Option<GroupGradient>,
    pub heads: PerHead<GroupGradient>,
}

struct HeadGradients<'a> {
    grads: &'a mut Gradients,
    heads: PerHead<GroupGradient>,
}

impl HeadVisitor for HeadGradients<'_> {
    fn visit<M: Module>(&mut self, head: Head, module: &M) {
        if let Some(gradient) = GroupGradientBuilder::default()
            .add(self.grads, module)
            .build()
        {
            self.heads.insert(head, gradient);
        }
    }
}

/// Takes every group's gradients of one backward pass out of `grads`.
pub fn step_gradients(grads: &mut Gradients, model: &AbsNet) -> StepGradients {
    let shared = GroupGradientBuilder::default()
        .add(grads, &model.backbone)
        .add(grads, &model.neck)
        .build();
    let mut heads = HeadGradients {
        grads,
        heads: PerHead::new(),
    };
    model.visit_heads(&mut heads);
    StepGradients {
        shared,
        heads: heads.heads,
    }
}

impl GroupGradient {
    /// The same layout with other values (a weighted or projected gradient).
    pub fn with_values(&self, values: Tensor<1>) -> Self {
        Self {
            values,
            spans: self.spans.clone(),
        }
    }

    /// The gradients of `module`'s parameters, for its optimizer.
    pub fn params_for<M: Module>(&self, module: &M) -> GradientsParams {
        let mut unflattener = Unflattener {
            values: &self.values,
            spans: &self.spans,
            grads: GradientsParams::new(),
        };
        module.visit(&mut unflattener);
        unflattener.grads
    }

    /// `‖g‖₂`.
    pub fn norm(&self) -> f64 {
        dot(&self.values, &self.values).sqrt()
    }

    /// The gradient scaled down to norm `max` when its norm is above it (PyTorch's
    /// `clip_grad_norm_` over all the group's tensors at once); unchanged otherwise.
    pub fn clipped(self, max: Option<f32>) -> Self {
        let Some(max) = max else {
            return self;
        };
        let norm = self.norm();
        if norm <= f64::from(max) {
            return self;
        }
        let scale = (f64::from(max) / norm) as f32;
        Self {
            values: self.values * scale,
            spans: self.spans,
        }
    }
}

/// `a · b` of two flat gradients.
pub fn dot(a: &Tensor<1>, b: &Tensor<1>) -> f64 {
    f64::from((a.clone() * b.clone()).sum().into_scalar::<f32>())
}

/// The tasks' gradients of one group laid out alike: a parameter one task's loss does not reach
/// (a head reading a backbone tap leaves the neck untouched) gets zeros in that task's vector.
pub fn aligned(gradients: Vec<GroupGradient>) -> Vec<GroupGradient> {
    let same = gradients.windows(2).all(|pair| {
        pair[0].spans.len() == pair[1].spans.len()
            && pair[0].spans.iter().all(|(id, span)| {
                pair[1]
                    .spans
                    .get(id)
                    .is_some_and(|other| other.start == span.start)
            })
    });
    if same {
        return gradients;
    }
    // The union, in the order of first appearance.
    let mut order: Vec<(ParamId, Vec<usize>)> = Vec::new();
    for gradient in &gradients {
        let mut own: Vec<(&ParamId, &Span)> = gradient.spans.iter().collect();
        own.sort_by_key(|(_, span)| span.start);
        for (id, span) in own {
            if !order.iter().any(|(known, _)| known == id) {
                order.push((*id, span.shape.clone()));
            }
        }
    }
    let mut spans = HashMap::new();
    let mut length = 0;
    for (id, shape) in &order {
        spans.insert(
            *id,
            Span {
                start: length,
                shape: shape.clone(),
            },
        );
        length += shape.iter().product::<usize>();
    }
    gradients
        .into_iter()
        .map(|gradient| {
            let device = gradient.values.device();
            let parts: Vec<Tensor<1>> = order
                .iter()
                .map(|(id, shape)| {
                    let n = shape.iter().product::<usize>();
                    match gradient.spans.get(id) {
                        Some(span) => gradient.values.clone().slice(span.start..span.start + n),
                        None => Tensor::zeros([n], &device),
                    }
                })
                .collect();
            GroupGradient {
                values: Tensor::cat(parts, 0),
                spans: spans.clone(),
            }
        })
        .collect()
}

/// `Σ wᵢ gᵢ` of flat vectors of one layout.
pub fn weighted_sum(gradients: &[Tensor<1>], weights: &[f64]) -> Tensor<1> {
    gradients
        .iter()
        .zip(weights)
        .map(|(g, &w)| g.clone() * w as f32)
        .reduce(|a, b| a + b)
        .expect("at least one task per step")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn gradient(values: Vec<f32>) -> GroupGradient {
        let n = values.len();
        GroupGradient {
            values: Tensor::from_data(TensorData::new(values, [n]), &Device::flex()),
            spans: HashMap::new(),
        }
    }

    #[test]
    fn clipping_scales_the_whole_group_to_its_norm() {
        // Two "tensors" (3, 0) and (0, 4): each alone is under 5, the group's norm is 5.
        let g = gradient(vec![3.0, 0.0, 0.0, 4.0]);
        let clipped: Vec<f32> = g
            .clipped(Some(2.5))
            .values
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // By hand: scale 2.5 / 5 = 0.5 on every element, the direction kept.
        assert_eq!(clipped, vec![1.5, 0.0, 0.0, 2.0]);
        let kept: Vec<f32> = gradient(vec![3.0, 0.0, 0.0, 4.0])
            .clipped(Some(5.0))
            .values
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(kept, vec![3.0, 0.0, 0.0, 4.0]);
    }
}
