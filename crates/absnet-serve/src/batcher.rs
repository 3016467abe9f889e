//! Dynamic batching: requests put their decoded photos in a bounded queue; one worker thread
//! takes the first waiting photo, gathers more until the batch is full or the wait is over, and
//! predicts them in one forward pass (a batch costs far less per image than single images).
//! A full queue refuses at once, so memory never grows without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use absnet_predict::{Prediction, Predictor};
use image::RgbImage;
use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// How requests are gathered into forward passes.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Most photos in one forward pass (1: no batching).
    pub max_batch: usize,
    /// Longest a photo waits for others to join its batch.
    pub max_wait: Duration,
    /// Most photos waiting; more are refused.
    pub queue: usize,
}

struct Job {
    photo: Arc<RgbImage>,
    reply: oneshot::Sender<Arc<Prediction>>,
}

/// The queue in front of the model.
pub struct Batcher {
    jobs: SyncSender<Job>,
    waiting: Arc<AtomicUsize>,
}

/// The queue is full: come back later.
#[derive(Debug, thiserror::Error)]
#[error("the queue is full ({0} images waiting); retry shortly")]
pub struct QueueFull(pub usize);

impl Batcher {
    /// Starts the worker thread, which owns `predictor` and runs until the batcher is dropped.
    pub fn start(predictor: Predictor, batching: Batching, metrics: Arc<Metrics>) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel(batching.queue.max(1));
        let waiting = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&waiting);
        std::thread::Builder::new()
            .name("absnet-batcher".into())
            .spawn(move || work(&predictor, &queue, batching, &counter, &metrics))
            .expect("a thread can be started");
        Self { jobs, waiting }
    }

    /// Queues `photo`; its prediction arrives on the returned channel.
    pub fn submit(
        &self,
        photo: Arc<RgbImage>,
    ) -> Result<oneshot::Receiver<Arc<Prediction>>, QueueFull> {
        let (reply, answer) = oneshot::channel();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        match self.jobs.try_send(Job { photo, reply }) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let waiting = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
                Err(QueueFull(waiting))
            }
        }
    }

    /// Photos waiting for a forward pass.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// The worker: a batch at a time until every sender is gone.
fn work(
    predictor: &Predictor,
    queue: &Receiver<Job>,
    batching: Batching,
    waiting: &AtomicUsize,
    metrics: &Metrics,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        let deadline = Instant::now() + batching.max_wait;
        while batch.len() < batching.max_batch {
            match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(job) => batch.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        waiting.fetch_sub(batch.len(), Ordering::SeqCst);
        let photos: Vec<&RgbImage> = batch.iter().map(|job| job.photo.as_ref()).collect();
        let predictions = predictor.predict_batch(&photos);
        metrics.batch(batch.len());
        for (job, prediction) in batch.into_iter().zip(predictions) {
            // A request that timed out no longer listens; nothing to do.
            let _ = job.reply.send(Arc::new(prediction));
        }
    }
}
