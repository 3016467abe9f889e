//! Process set-up shared by the `absnet` and `absnet-bench` binaries: the allocator, closed
//! pipes, and the compute device.

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::ValueEnum;

/// Tensors of hundreds of MB are allocated and freed every step; glibc's malloc hands each back
/// to the kernel and faults it in again (a third of a training step's time). mimalloc, told not
/// to purge freed memory, reuses it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the same index in v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option; -1 means "never purge".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`absnet … | head`) would panic;
/// restoring the default makes absnet end quietly there, as command-line tools do.
fn end_quietly_on_closed_pipes() {
    // SAFETY: resets one signal's disposition before any thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// A binary's `main`: sets the process up (closed pipes, the allocator), runs `run`, and turns
/// its error into a message and a failing exit status.
pub fn main(run: fn() -> Result<()>) -> std::process::ExitCode {
    end_quietly_on_closed_pipes();
    keep_freed_memory();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The `--device` option of both binaries.
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// Compute device: `cpu` (burn Flex), `gpu` (burn wgpu: Vulkan, Metal or DirectX 12; with
    /// the `gpu` feature) or `cuda` (with the `cuda` feature, which needs network at build time).
    #[arg(long, global = true, default_value = "cpu")]
    pub device: DeviceName,
}

impl DeviceArgs {
    /// The device, with burn's default pinned to it; call before any thread starts.
    pub fn set_up(&self) -> Result<Device> {
        pin_default_device(self.device);
        device(self.device)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DeviceName {
    Cpu,
    Gpu,
    Cuda,
}

/// burn creates some tensors on its default device, not on the one passed to it: a resumed run's
/// optimizer state is loaded there (and moved to the parameters' device at the next step). In a
/// build with the GPU backend that default is the GPU, so `--device cpu` would still start a
/// Vulkan driver, or fail without one. Pinning burn's default (`BURN_DEVICE`) to the chosen
/// device keeps every tensor on it.
fn pin_default_device(name: DeviceName) {
    let burn_name = match name {
        DeviceName::Cpu => "flex",
        DeviceName::Gpu => "wgpu",
        DeviceName::Cuda => "cuda",
    };
    // SAFETY: called from `DeviceArgs::set_up`, before anything has started a thread.
    unsafe { std::env::set_var("BURN_DEVICE", burn_name) };
}

fn device(name: DeviceName) -> Result<Device> {
    match name {
        DeviceName::Cpu => Ok(Device::flex()),
        #[cfg(feature = "gpu")]
        DeviceName::Gpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "gpu"))]
        DeviceName::Gpu => {
            bail!("this absnet was built without the GPU backend; rebuild with `--features gpu`")
        }
        #[cfg(feature = "cuda")]
        DeviceName::Cuda => Ok(Device::cuda(0)),
        #[cfg(not(feature = "cuda"))]
        DeviceName::Cuda => {
            bail!("this absnet was built without CUDA; rebuild with `--features cuda`")
        }
    }
}
