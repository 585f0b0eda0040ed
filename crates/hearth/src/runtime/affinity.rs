//! Pinning worker threads to CPUs, through the `core_affinity` crate
//! (`sched_setaffinity` on Linux; thread affinity APIs elsewhere).
//!
//! The CPUs are those this process may run on (on Linux, its affinity mask:
//! a container or `taskset` limit is respected), in order; worker `i` gets the
//! `i`-th. Failing to pin is an error of `Builder::build`, not a warning: a
//! user who asked for pinning and silently did not get it would measure the
//! wrong thing.

use std::io;

pub(crate) use core_affinity::CoreId;

/// The CPUs for `workers` pinned workers, one each.
pub(crate) fn cores_for(workers: usize) -> io::Result<Vec<CoreId>> {
    let cores = core_affinity::get_core_ids().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "hearth::Runtime: pin_to_cores(true), but the CPUs this process may run on \
             cannot be read on this platform",
        )
    })?;
    if cores.len() < workers {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "hearth::Runtime: pin_to_cores(true) with {workers} workers, but this process \
                 may run on only {} CPUs; use at most {} workers or pin_to_cores(false)",
                cores.len(),
                cores.len()
            ),
        ));
    }
    Ok(cores.into_iter().take(workers).collect())
}

/// Pins the calling thread (worker `worker`) to `core`.
pub(crate) fn pin_current(worker: usize, core: CoreId) -> io::Result<()> {
    if core_affinity::set_for_current(core) {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "hearth::Runtime: could not pin worker {worker} to CPU {}",
            core.id
        )))
    }
}
