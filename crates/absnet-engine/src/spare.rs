//! Buffers of dropped feature maps, kept for the next ones. A mobile encoder's early maps are
//! tens of MB at batch 2; an allocator hands blocks that large back to the kernel when they
//! are freed and faults fresh, zeroed pages in for the next one — in a forward pass, a sixth
//! of the time went to the kernel zeroing pages. A forward holds at most four maps at once
//! (input, expansion, depthwise output, the residual), so four spare buffers are enough.

use std::sync::Mutex;

/// Buffers smaller than this (in values) go back to the allocator, which reuses them well.
const LARGE: usize = 1 << 18;
const KEPT: usize = 4;

static SPARE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// An empty buffer with room for `len` values: the smallest spare one that fits, else a new
/// one.
pub(crate) fn take(len: usize) -> Vec<f32> {
    if len >= LARGE {
        let mut spare = SPARE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fitting = spare
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        if let Some(i) = fitting {
            return spare.swap_remove(i);
        }
    }
    Vec::with_capacity(len)
}

/// Keeps `buffer` for a later [`take`] if it is large, dropping the smallest spare buffer when
/// more than [`KEPT`] are kept.
pub(crate) fn give(mut buffer: Vec<f32>) {
    if buffer.capacity() < LARGE {
        return;
    }
    buffer.clear();
    let mut spare = SPARE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    spare.push(buffer);
    if spare.len() > KEPT {
        let smallest = (0..spare.len())
            .min_by_key(|&i| spare[i].capacity())
            .expect("more than KEPT buffers");
        spare.swap_remove(smallest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_is_handed_out_again_and_a_small_one_is_not_kept() {
        let large = Vec::<f32>::with_capacity(LARGE * 3);
        let at = large.as_ptr();
        give(large);
        // Other tests may give and take buffers meanwhile; ask for one only this one fits.
        let again = take(LARGE * 3);
        assert!(again.is_empty() && again.capacity() >= LARGE * 3);
        if again.capacity() == LARGE * 3 {
            assert_eq!(again.as_ptr(), at);
        }
        give(Vec::with_capacity(16));
        assert!(SPARE.lock().unwrap().iter().all(|b| b.capacity() >= LARGE));
    }
}
