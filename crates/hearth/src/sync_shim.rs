//! The thread primitives the executor uses, swapped for loom's in model
//! checking builds (atomics come from `hearth_task::atomic`).

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex};
#[cfg(loom)]
pub(crate) use loom::thread::{current, park, Thread};

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex};
#[cfg(not(loom))]
pub(crate) use std::thread::{current, park, Thread};
