use rayon::prelude::*;

/// Rows per task when `rows` rows are spread over rayon's threads: about four tasks per thread
/// (so a slow task does not leave the others idle), at least `min_rows` (so each task's work
/// outweighs scheduling it).
pub(crate) fn rows_per_task(rows: usize, min_rows: usize) -> usize {
    let tasks = 4 * rayon::current_num_threads();
    rows.div_ceil(tasks).max(min_rows).clamp(1, rows.max(1))
}

/// Calls `f(first_row, rows)` for consecutive blocks of `per_task` rows of `row_len` values of
/// `values`, in parallel.
pub(crate) fn for_row_blocks<T: Send>(
    values: &mut [T],
    row_len: usize,
    per_task: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    values
        .par_chunks_mut(row_len * per_task)
        .enumerate()
        .for_each(|(task, block)| f(task * per_task, block));
}
