//! A task's training data as an endless sequence of batches.

use absnet_data::Sample;
use absnet_data::loader::{Example, Loader, LoaderConfig, Skipped};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::TrainError;

/// Pass `p` is the loader's seeded order for `p`, cut into batches; `visits` batches have been
/// drawn, so a resumed run continues with the batch an uninterrupted one would draw, with the
/// same [`Example::draw`]s.
pub struct TaskStream<'a> {
    loader: Loader<'a>,
    seed: u64,
    batch: usize,
    /// Batches in one pass over the task's training set.
    pub batches: usize,
    pub visits: usize,
    order: Option<(u64, Vec<(usize, bool)>)>,
}

impl<'a> TaskStream<'a> {
    pub fn new(
        samples: &'a [Sample],
        loader_config: LoaderConfig,
        batch: usize,
        visits: usize,
    ) -> Self {
        Self {
            seed: loader_config.seed,
            loader: Loader::new(samples, loader_config),
            batch,
            batches: samples.len().div_ceil(batch),
            visits,
            order: None,
        }
    }

    pub fn next(&mut self, skipped: &mut Skipped) -> Result<Vec<Example>, TrainError> {
        let pass = (self.visits / self.batches) as u64;
        let index = self.visits % self.batches;
        self.visits += 1;
        if self.order.as_ref().is_none_or(|(p, _)| *p != pass) {
            self.order = Some((pass, self.loader.order(pass)));
        }
        let (_, order) = self.order.as_ref().expect("just drawn");
        let visits = &order[index * self.batch..((index + 1) * self.batch).min(order.len())];
        let mut examples = self.loader.batch(visits, skipped)?;
        let mut rng = StdRng::seed_from_u64(
            self.seed ^ (pass << 32 | index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        for example in &mut examples {
            example.draw = rng.random();
        }
        Ok(examples)
    }
}
