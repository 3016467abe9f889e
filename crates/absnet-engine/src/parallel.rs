use std::mem::MaybeUninit;

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

/// `dst[m×n] += lhs[m×k] · rhs[k×n]`, `dst` and `rhs` row-major and contiguous, `lhs`'s rows
/// `lhs_row_stride` values apart — less than `k` reads overlapping rows, an im2col that is
/// never written: with a stride of one pixel's channels and `k` = several pixels' channels,
/// row `p` is the run of pixels from `p` on.
pub(crate) fn matmul_add(
    dst: &mut [f32],
    lhs: &[f32],
    lhs_row_stride: usize,
    rhs: &[f32],
    [m, k, n]: [usize; 3],
) {
    assert!(dst.len() == m * n && rhs.len() == k * n);
    assert!(m == 0 || lhs.len() >= (m - 1) * lhs_row_stride + k);
    // SAFETY: as in `matmul`, every row of `lhs` inside it (asserted); `dst` is initialised
    // and read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            1,
            lhs_row_stride as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, every matrix row-major and contiguous; every value of
/// `dst` written (none read), so it may come uninitialised. Returns `dst`, initialised.
pub(crate) fn matmul<'a>(
    dst: &'a mut [MaybeUninit<f32>],
    lhs: &[f32],
    rhs: &[f32],
    [m, k, n]: [usize; 3],
    parallelism: gemm::Parallelism,
) -> &'a mut [f32] {
    assert!(dst.len() == m * n && lhs.len() == m * k && rhs.len() == k * n);
    // SAFETY: the three slices hold exactly the m×n, m×k and k×n row-major matrices the
    // strides describe (asserted above), and `dst` is borrowed mutably, so it aliases neither.
    // With `read_dst` false gemm only writes `dst`, every value of it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
        // SAFETY: gemm wrote all m×n values; `MaybeUninit<f32>` has `f32`'s layout.
        &mut *(dst as *mut [MaybeUninit<f32>] as *mut [f32])
    }
}
